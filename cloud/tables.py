"""Every table of the cloud database in one metadata, for Alembic and the schema tests.

Importing this module imports each package's models; nothing else needs to.
"""

from __future__ import annotations

from cloud import audit
from cloud.accounts import models as accounts
from cloud.alerts import models as alerts
from cloud.departments import models as departments
from cloud.registry import models as registry
from cloud.rules import store as rules
from cloud.warnings import models as warnings

__all__ = ["metadata"]

metadata = registry.Base.metadata
_ = (alerts, audit, accounts, departments, rules, warnings)
