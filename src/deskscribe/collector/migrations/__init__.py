"""Alembic migrations of the collector database; applied by :func:`deskscribe.collector.store.migrate`."""
