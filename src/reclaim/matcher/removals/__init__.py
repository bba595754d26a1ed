"""Legal removal requests (the US TAKE IT DOWN Act's notices): intake, the
48-hour clock, copies found, actions taken and the record of efforts.
"""
