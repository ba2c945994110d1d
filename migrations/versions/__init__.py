"""Alembic revision scripts of the review-history schema (Alembic skips this file)."""
