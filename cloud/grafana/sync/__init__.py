"""``fuelwatch grafana sync``: teams, folders, permissions, users and contact points.

Three steps, each testable alone: ``desired_state`` (registry -> what Grafana should hold),
``plan`` (desired vs current -> ordered changes; a dry run prints them), ``apply`` (the
changes through ``GrafanaApi``). Running it twice changes nothing the second time.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.grafana.sync.api import GrafanaApi, GrafanaApiError
from fuelwatch.cloud.grafana.sync.apply import apply, read_current
from fuelwatch.cloud.grafana.sync.config import SyncConfig
from fuelwatch.cloud.grafana.sync.plan import Change, plan
from fuelwatch.cloud.grafana.sync.state import desired_state

__all__ = ["Change", "GrafanaApi", "GrafanaApiError", "sync"]


def sync(
    sessions: sessionmaker[Session], api: GrafanaApi, config: SyncConfig, *, dry_run: bool
) -> list[Change]:
    """Bring Grafana in line with the registry; return the changes (made unless dry run)."""
    with sessions() as session:
        desired = desired_state(session, config)
    current, ids = read_current(api)
    changes = plan(desired, current)
    if not dry_run:
        apply(changes, api, ids)
    return changes
