"""Storage: the SQLAlchemy models, the database connection and its Alembic migrations."""
