"""The registry: anonymous cases, the hash list and its change feed, platforms.

This is the service domain; it knows nothing of HTTP. The API layer calls
`Registry` (see `service.py`), which owns every query.
"""
