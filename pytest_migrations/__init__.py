"""pytest-migrations: prove Alembic migrations are safe before they reach production."""

__version__ = "0.1.0"
