"""Celery app, queues, routes, beat schedule and task shims over plain functions."""
