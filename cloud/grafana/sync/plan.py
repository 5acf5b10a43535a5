"""The difference between the desired and the current Grafana state, as ordered changes.

The plan only adds what is missing and corrects what fuelwatch owns: it never deletes a
team, folder, user or contact point, and changes membership only of its own teams and
permissions only of its own folders. Users the registry has disabled are disabled in
Grafana (not deleted: their history stays). An empty plan means Grafana is in sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fuelwatch.cloud.grafana.sync.state import ContactPoint, GrafanaState, Grant, UserAccount

__all__ = ["Change", "Op", "plan"]

Op = Literal[
    "create_team",
    "create_folder",
    "create_user",
    "disable_user",
    "enable_user",
    "add_member",
    "remove_member",
    "set_permissions",
    "create_contact_point",
    "update_contact_point",
]
_SIGN = {"create": "+", "add": "+", "remove": "-", "disable": "-"}


@dataclass(frozen=True, slots=True)
class Change:
    op: Op
    target: str  # team name, folder uid, login, contact point name
    detail: str = ""  # a human line for the diff
    user: UserAccount | None = None
    team: str | None = None
    grants: frozenset[Grant] = field(default_factory=frozenset)
    title: str | None = None
    contact_point: ContactPoint | None = None

    def describe(self) -> str:
        verb, _, kind = self.op.partition("_")
        sign = _SIGN.get(verb, "~")
        return f"{sign} {kind.replace('_', ' ')} {self.target}" + (
            f": {self.detail}" if self.detail else ""
        )


def _grants_text(grants: frozenset[Grant]) -> str:
    names = {1: "View", 2: "Edit", 4: "Admin"}
    return ", ".join(
        f"{kind} {who} {names.get(level, level)}" for kind, who, level in sorted(grants)
    )


def plan(desired: GrafanaState, current: GrafanaState) -> list[Change]:
    changes = [Change("create_team", t) for t in sorted(desired.teams - current.teams)]
    changes += [
        Change("create_folder", uid, title, title=title)
        for uid, title in sorted(desired.folders.items())
        if uid not in current.folders
    ]
    for login, want in sorted(desired.users.items()):
        have = current.users.get(login)
        if have is None:
            if not want.disabled:  # a disabled registry user is not worth creating
                changes.append(Change("create_user", login, want.name, user=want))
        elif have.disabled != want.disabled:
            op: Op = "disable_user" if want.disabled else "enable_user"
            changes.append(Change(op, login, user=want))
    for team, logins in sorted(desired.members.items()):
        have_members = current.members.get(team, set())
        changes += [
            Change("add_member", login, f"to {team}", team=team)
            for login in sorted(logins - have_members)
        ]
        changes += [
            Change("remove_member", login, f"from {team}", team=team)
            for login in sorted(have_members - logins)
        ]
    for uid, grants in sorted(desired.permissions.items()):
        if current.permissions.get(uid) != grants:
            changes.append(
                Change(
                    "set_permissions",
                    uid,
                    f"{_grants_text(current.permissions.get(uid, frozenset()))} -> "
                    f"{_grants_text(grants)}",
                    grants=grants,
                )
            )
    for name, point in sorted(desired.contact_points.items()):
        have_point = current.contact_points.get(name)
        if have_point is None:
            changes.append(Change("create_contact_point", name, point.url, contact_point=point))
        elif have_point != point:
            changes.append(
                Change(
                    "update_contact_point",
                    name,
                    f"{have_point.http_method} {have_point.url} -> {point.http_method} {point.url}",
                    contact_point=point,
                )
            )
    return changes
