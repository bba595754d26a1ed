"""Browser tests: the web app and its in-browser hashing, in headless Chromium."""
