"""Read Grafana's current state, and carry out a plan's changes in order."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from fuelwatch.cloud.grafana.folders import FOLDERS
from fuelwatch.cloud.grafana.sync.api import GrafanaApi
from fuelwatch.cloud.grafana.sync.plan import Change
from fuelwatch.cloud.grafana.sync.state import GrafanaState, Grant

__all__ = ["Ids", "apply", "read_current"]

LOGGER = logging.getLogger(__name__)
OUR_TEAMS = "fuelwatch-"


@dataclass(slots=True)
class Ids:
    """Grafana's ids of what the plan names, filled in as things are created."""

    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    contact_points: dict[str, str] = field(default_factory=dict)


def _grant(item: dict[str, Any], logins: dict[int, str], teams: dict[int, str]) -> Grant | None:
    level = int(item.get("permission", 0))
    if item.get("teamId"):
        return ("team", item.get("team") or teams.get(int(item["teamId"]), ""), level)
    if item.get("userId"):
        return ("user", item.get("userLogin") or logins.get(int(item["userId"]), ""), level)
    if item.get("role"):
        return ("role", str(item["role"]), level)
    return None


def read_current(api: GrafanaApi) -> tuple[GrafanaState, Ids]:
    teams = {name: tid for name, tid in api.teams().items() if name.startswith(OUR_TEAMS)}
    users = api.users()
    folders = api.folders()
    points = api.contact_points()
    ids = Ids(
        teams=teams,
        users={login: uid for login, (uid, _) in users.items()},
        contact_points={name: uid for name, (uid, _) in points.items()},
    )
    by_user_id = {uid: login for login, uid in ids.users.items()}
    by_team_id = {tid: name for name, tid in teams.items()}
    ours = {f.uid for f in FOLDERS}
    state = GrafanaState(
        teams=set(teams),
        users={login: account for login, (_, account) in users.items()},
        members={name: api.team_members(tid) for name, tid in teams.items()},
        folders=folders,
        permissions={
            uid: frozenset(
                g
                for item in api.folder_permissions(uid)
                if not item.get("inherited")
                and (g := _grant(item, by_user_id, by_team_id)) is not None
            )
            for uid in folders
            if uid in ours
        },
        contact_points={name: point for name, (_, point) in points.items()},
    )
    return state, ids


def _items(grants: frozenset[Grant], ids: Ids) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for kind, who, level in sorted(grants):
        if kind == "team":
            items.append({"teamId": ids.teams[who], "permission": level})
        elif kind == "user":
            items.append({"userId": ids.users[who], "permission": level})
        else:
            items.append({"role": who, "permission": level})
    return items


def apply(changes: list[Change], api: GrafanaApi, ids: Ids) -> None:
    """Carry out ``changes`` (as ``plan`` ordered them: what later ones need comes first)."""
    for change in changes:
        LOGGER.info("%s", change.describe())
        match change.op:
            case "create_team":
                ids.teams[change.target] = api.create_team(change.target)
            case "create_folder":
                api.create_folder(change.target, change.title or change.target)
            case "create_user":
                assert change.user is not None
                # Sign-in is the deployment's (SSO or an admin's reset): nobody knows this one.
                ids.users[change.target] = api.create_user(change.user, secrets.token_urlsafe(24))
            case "disable_user" | "enable_user":
                api.set_disabled(ids.users[change.target], change.op == "disable_user")
            case "add_member":
                assert change.team is not None
                api.add_member(ids.teams[change.team], ids.users[change.target])
            case "remove_member":
                assert change.team is not None
                api.remove_member(ids.teams[change.team], ids.users[change.target])
            case "set_permissions":
                api.set_folder_permissions(change.target, _items(change.grants, ids))
            case "create_contact_point":
                assert change.contact_point is not None
                ids.contact_points[change.target] = api.create_contact_point(change.contact_point)
            case "update_contact_point":
                assert change.contact_point is not None
                api.update_contact_point(ids.contact_points[change.target], change.contact_point)
