"""Alembic migrations of the registry schema (applied by `reclaim db upgrade`)."""
