"""The person-facing web app: a page that hashes in the browser, in 28 languages."""
