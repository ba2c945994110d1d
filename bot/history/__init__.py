"""Review history: SQLAlchemy models, engine/session/migration helpers and store functions."""
