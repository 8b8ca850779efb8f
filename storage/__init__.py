"""Persistence: SQLAlchemy models, repositories, unit of work, encryption, migrations."""
