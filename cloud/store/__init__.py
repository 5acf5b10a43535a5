"""The registry: districts, stations, gateways and their keys (SQLAlchemy 2 + Alembic).

SQLite by default (a file under the state folder), PostgreSQL in deployment; the schema is
only ever changed by Alembic migrations in ``cloud/store/migrations``.
"""
