"""The `reclaim` command line."""
