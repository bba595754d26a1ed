"""The platform's desk: moderators' review, removal requests, transparency and
the operator's dashboard, server-rendered from Jinja2 templates.

`reclaim.matcher.desk.site.install(app, service)` adds its pages to the
matcher's app. This package's `__init__` imports nothing, so the store can
load `desk.tables` without the web stack.
"""
