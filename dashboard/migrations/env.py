"""Alembic environment: run programmatically by dashboard.storage.Storage.migrate(), which
passes an open connection in `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context

from dashboard.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `python -m dashboard migrate --db URL`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
