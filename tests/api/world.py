"""A small world for API tests: two districts, three stations, one user per role and scope.

    d1: S1, S2        d2: S3

Users (password: ``password_of(name)``, only when asked for):
    admin     platform_admin / system_admin     runs the platform (no accounts, no audit)
    secadmin  platform_admin / security_admin   accounts and API keys only
    auditor   platform_admin / audit_admin      the audit log only
    devmgr    platform_admin / device_manager   all districts
    officer1  commerce / officer                d1
    officer2  tax / officer                     d2
    super1    commerce / supervisor             d1
    viewer1   market_regulation / viewer        d1 (sensitive fields masked)
    importer2 tax / importer                    d2 (machine account, API key)
    station1  station / station                 S1
    station3  station / station                 S3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.accounts.service import create_api_key, create_user, issue_tokens
from fuelwatch.cloud.common.settings import ApiSettings
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.cloud.store.models.registry import District, Station
from fuelwatch.cloud.warnings.service import upsert_warning

USERS: dict[str, dict[str, object]] = {
    "admin": {"department": "platform_admin", "role": "system_admin"},
    "secadmin": {"department": "platform_admin", "role": "security_admin"},
    "auditor": {"department": "platform_admin", "role": "audit_admin"},
    "devmgr": {"department": "platform_admin", "role": "device_manager", "all_districts": True},
    "officer1": {"department": "commerce", "role": "officer", "districts": ["d1"]},
    "officer2": {"department": "tax", "role": "officer", "districts": ["d2"]},
    "super1": {"department": "commerce", "role": "supervisor", "districts": ["d1"]},
    "viewer1": {"department": "market_regulation", "role": "viewer", "districts": ["d1"]},
    "importer2": {"department": "tax", "role": "importer", "districts": ["d2"], "machine": True},
    "station1": {"department": "station", "role": "station", "station": "S1"},
    "station3": {"department": "station", "role": "station", "station": "S3"},
}
STATIONS = {"S1": "d1", "S2": "d1", "S3": "d2"}
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def password_of(name: str) -> str:
    return f"Pw#{len(name)}-{name[::-1].upper()}-2026"


@dataclass
class World:
    user_ids: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)  # station -> warning id
    api_keys: dict[str, str] = field(default_factory=dict)


def seed(sessions: sessionmaker[Session], *, with_passwords: bool = False) -> World:
    """Stations, users (passwords only if asked: argon2 is slow on purpose), one warning per
    station with sensitive evidence."""
    world = World()
    with sessions.begin() as session:
        for d in ("d1", "d2"):
            session.add(District(id=d, name=f"district {d}", created_at=T0))
        session.flush()
        for s, d in STATIONS.items():
            session.add(
                Station(
                    id=s,
                    district_id=d,
                    name=f"station {s}",
                    created_at=T0,
                    contact_name="王小明",
                    contact_phone="13912345678",
                )
            )
        session.flush()
        for name, spec in USERS.items():
            user = create_user(
                session,
                username=name,
                password=None if spec.get("machine") or not with_passwords else password_of(name),
                department=str(spec["department"]),
                role=str(spec["role"]),
                districts=list(spec.get("districts", [])),  # type: ignore[call-overload]
                all_districts=bool(spec.get("all_districts", False)),
                station=spec.get("station"),  # type: ignore[arg-type]
                full_name="张三",
                phone="13800001111",
            )
            world.user_ids[name] = user.id
            if spec.get("machine"):
                _, world.api_keys[name] = create_api_key(session, user, name="feed")
        for s in STATIONS:
            result = upsert_warning(
                session,
                rule_id="tank_loss",
                category="inventory_reconciliation",
                severity="high",
                station=s,
                subject="tank:1",
                title_zh=f"{s} 1号罐液位异常下降",
                title_en=f"{s} tank 1 level drop",
                evidence={
                    "window": ["2026-11-01T00:00:00Z", "2026-11-01T06:00:00Z"],
                    "loss_l": 812.5,
                    "records": [{"vehicle_plate": "津A12345", "driver_phone": "13700001234"}],
                },
                seen_at=T0,
            )
            world.warnings[s] = result.warning.id
    return world


def bearer(sessions: sessionmaker[Session], settings: ApiSettings, user_id: int) -> dict[str, str]:
    """Headers with a fresh access token (no password check: that is tested on its own)."""
    with sessions.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        pair = issue_tokens(session, user, settings)
    return {"Authorization": f"Bearer {pair.access_token}"}
