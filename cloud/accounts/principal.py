"""Who is asking: a user's role, permissions and scope, resolved once per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from fuelwatch.cloud.accounts.roles import ADMIN_ROLES, Permission, Role, permissions_of
from fuelwatch.cloud.store.models.accounts import User

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    department: str
    permissions: frozenset[Permission]
    districts: frozenset[str] | None  # None: every district
    station: str | None  # set for station users: that station only
    via: str = "password"  # or "api_key:<id>"

    @classmethod
    def of(cls, user: User, *, via: str = "password") -> Principal:
        role = Role(user.role)
        if user.station_id is not None:
            districts: frozenset[str] | None = frozenset()
        elif user.all_districts or role in ADMIN_ROLES:
            districts = None
        else:
            districts = frozenset(user.districts)
        return cls(
            user_id=user.id,
            username=user.username,
            role=role,
            department=user.department,
            permissions=permissions_of(role),
            districts=districts,
            station=user.station_id,
            via=via,
        )

    @property
    def actor(self) -> str:
        return self.username if self.via == "password" else f"{self.username} ({self.via})"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def sees(self, *, station: str | None, district: str | None) -> bool:
        """May this principal see a row of ``station`` in ``district``?"""
        if self.station is not None:
            return station is not None and station == self.station
        if self.districts is None:
            return True
        return district is not None and district in self.districts

    def sees_district(self, district: str) -> bool:
        if self.station is not None:
            return False
        return self.districts is None or district in self.districts

    def row_filter(self, station_col: Any, district_col: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping only the rows this principal may see."""
        if self.station is not None:
            return station_col == self.station  # type: ignore[no-any-return]
        if self.districts is None:
            return true()
        if not self.districts:
            return false()
        return or_(*(district_col == d for d in sorted(self.districts)))
