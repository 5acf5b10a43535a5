"""Grafana state as the sync sees it, and the desired state made from the registry.

Only what fuelwatch manages is modelled: its teams (``fuelwatch-<department>``), the users of
the registry's government departments, its folders and their permissions, and the contact
points named in the sync config. Anything else in Grafana is read but left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts.roles import Department, Role
from fuelwatch.cloud.grafana.folders import FOLDERS
from fuelwatch.cloud.grafana.sync.config import SyncConfig
from fuelwatch.cloud.store.models.accounts import User

__all__ = [
    "ADMIN_DEPARTMENT",
    "ContactPoint",
    "GrafanaState",
    "Grant",
    "Permission",
    "UserAccount",
    "desired_state",
    "team_name",
]

ADMIN_DEPARTMENT = Department.PLATFORM_ADMIN
# Not Grafana users: station portal accounts see their own station in the portal, importers
# are machine feeds.
NOT_IN_GRAFANA = frozenset({Role.STATION, Role.IMPORTER})


class Permission(IntEnum):
    """Grafana's folder permission levels."""

    VIEW = 1
    EDIT = 2
    ADMIN = 4


def team_name(department: Department | str) -> str:
    return f"fuelwatch-{Department(department).value}"


@dataclass(frozen=True, slots=True)
class UserAccount:
    login: str
    name: str
    email: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class ContactPoint:
    name: str
    url: str
    http_method: str = "POST"

    def settings(self) -> dict[str, str]:
        return {"url": self.url, "httpMethod": self.http_method}


# A folder permission: ("team", team name, level), ("role", "Viewer", level) or
# ("user", login, level).
Grant = tuple[str, str, int]


@dataclass(slots=True)
class GrafanaState:
    teams: set[str] = field(default_factory=set)
    users: dict[str, UserAccount] = field(default_factory=dict)  # login -> account
    members: dict[str, set[str]] = field(default_factory=dict)  # team -> logins
    folders: dict[str, str] = field(default_factory=dict)  # uid -> title
    permissions: dict[str, frozenset[Grant]] = field(default_factory=dict)  # folder uid ->
    contact_points: dict[str, ContactPoint] = field(default_factory=dict)  # name ->


def _folder_grants(viewers: frozenset[Department]) -> frozenset[Grant]:
    grants = {("team", team_name(d), int(Permission.VIEW)) for d in viewers}
    grants.add(("team", team_name(ADMIN_DEPARTMENT), int(Permission.ADMIN)))
    return frozenset(grants)


def desired_state(session: Session, config: SyncConfig) -> GrafanaState:
    """What Grafana should hold for the registry's users and fuelwatch's folders.

    Folder permissions are exactly the department teams: Grafana's default "Viewer can view,
    Editor can edit" grants are removed, so a department sees only its folders.
    """
    departments = [d for d in Department if d is not Department.STATION]
    state = GrafanaState(
        teams={team_name(d) for d in departments},
        members={team_name(d): set() for d in departments},
        folders={f.uid: f.title for f in FOLDERS},
        permissions={f.uid: _folder_grants(f.viewers) for f in FOLDERS},
        contact_points={
            c.name: ContactPoint(c.name, str(c.url), c.http_method) for c in config.contact_points
        },
    )
    for user in session.scalars(select(User).order_by(User.username)):
        if Role(user.role) in NOT_IN_GRAFANA:
            continue
        email = f"{user.username}@{config.email_domain}" if config.email_domain else ""
        state.users[user.username] = UserAccount(
            login=user.username,
            name=user.full_name or user.username,
            email=email,
            disabled=user.disabled,
        )
        if not user.disabled:
            state.members[team_name(user.department)].add(user.username)
    return state
