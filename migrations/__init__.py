"""Alembic migrations of the review-history database (run them with `reviewbot db upgrade`)."""
