"""Tests against the real third-party clients platforms run (pytx, HMA)."""
