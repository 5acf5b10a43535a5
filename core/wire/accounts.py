"""MQTT account names: station accounts and platform accounts in namespaces that cannot meet.

A station's MQTT user name *is* its station id (the ACL pattern ``fuel/v1/+/%u/#`` confines
it, and a station certificate's CN is the same id). Every other broker account - the cloud
services, alert recipients, district bridges - is named with the reserved prefix
``fuelwatch-``, and no station id may start with it, in any letter case. So whoever may create
stations (a district device manager) can never create, provision, re-password or certify a
station whose MQTT account is a platform account:

==================  =========================  ==========================================
kind                form                       example
==================  =========================  ==========================================
station             topic segment, no prefix   ``BH0001``
service             ``fuelwatch-<name>``       ``fuelwatch-cloud`` (FUELWATCH_MQTT_USERNAME)
alert reader        ``fuelwatch-reader-<name>``  ``fuelwatch-reader-tax-binhai``
bridge              ``fuelwatch-bridge-<name>``  ``fuelwatch-bridge-binhai``
==================  =========================  ==========================================
"""

from __future__ import annotations

import re
from enum import StrEnum

from fuelwatch.core.wire.topics import TopicError, validate_segment

__all__ = [
    "PLATFORM_PREFIX",
    "AccountKind",
    "is_platform_account",
    "validate_platform_account",
    "validate_station_id",
]

PLATFORM_PREFIX = "fuelwatch-"
_NAME = re.compile(r"^[a-z0-9][A-Za-z0-9_.-]{0,63}$")  # no + # / : or spaces


class AccountKind(StrEnum):
    SERVICE = "service"
    ALERT_READER = "reader"
    BRIDGE = "bridge"


_SUB_PREFIX = {
    AccountKind.ALERT_READER: PLATFORM_PREFIX + "reader-",
    AccountKind.BRIDGE: PLATFORM_PREFIX + "bridge-",
}


def is_platform_account(name: str) -> bool:
    """Is ``name`` in the platform namespace (case-insensitive, as a human would read it)?"""
    return name.lower().startswith(PLATFORM_PREFIX)


def validate_station_id(value: str, what: str = "station") -> str:
    """A station id: a topic segment outside the platform namespace."""
    validate_segment(value, what)
    if is_platform_account(value):
        raise TopicError(
            f"{what} {value!r} is reserved: names starting with {PLATFORM_PREFIX!r} "
            "(any letter case) are the platform's MQTT accounts"
        )
    return value


def validate_platform_account(name: str, kind: AccountKind) -> str:
    """A service, alert reader or bridge account name of the right sub-namespace."""
    if not _NAME.fullmatch(name) or not name.startswith(PLATFORM_PREFIX):
        raise TopicError(
            f"{kind.value} account {name!r} must start with {PLATFORM_PREFIX!r} and use only "
            "A-Z a-z 0-9 _ . - (at most 64 characters)"
        )
    sub = _SUB_PREFIX.get(kind)
    if sub is not None and (not name.startswith(sub) or len(name) == len(sub)):
        raise TopicError(f"{kind.value} account {name!r} must be named {sub}<name>")
    if kind is AccountKind.SERVICE and any(name.startswith(p) for p in _SUB_PREFIX.values()):
        raise TopicError(f"service account {name!r} uses an alert-reader or bridge prefix")
    return name
