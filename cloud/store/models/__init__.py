"""Every table of the cloud database, in one metadata.

The schema is one layer: all tables are declared here, in one module per area, so importing
any model imports them all and every foreign key and relationship resolves in any process
(a service never depends on some other module having been imported first). The subsystems
above own the behaviour; Alembic migrations in ``store/migrations`` own the DDL.
"""

from __future__ import annotations

from fuelwatch.cloud.store.models import (
    accounts,
    alerts,
    audit,
    departments,
    registry,
    rules,
    warnings,
)
from fuelwatch.cloud.store.models.base import Base, UtcDateTime

__all__ = ["Base", "UtcDateTime", "metadata"]

metadata = Base.metadata
_ = (accounts, alerts, audit, departments, registry, rules, warnings)
