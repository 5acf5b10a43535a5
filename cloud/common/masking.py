"""Masking of personal data by *data class*, for roles without ``sensitive.read`` and for every
alert pushed over MQTT or webhooks.

A field's class comes from its name, word by word (``driver_phone`` -> phone,
``plate_no`` -> vehicle plate), not from a list of exact names, so a new field that carries a
plate under another name is still masked. Each class has one masker:

=============  ==================================================  ===================
class          recognised by the words                             shown as
=============  ==================================================  ===================
person name    name with driver/contact/inspector/person/full/...  ``王**``
phone          phone, mobile, tel, telephone                       ``139****5678``
vehicle plate  plate, vehicle, licence_plate                       ``津A***45``
payment ref    payment, card, account, iban                        ``****1234``
identity no    id_card, idcard, identity, passport, id_no          all ``*``
address        address, addr                                       first 6 characters
=============  ==================================================  ===================

Evidence (JSON from rules) is *default deny*: numbers and booleans are measurements and pass;
a string passes only under a key known to be non-personal (``PUBLIC_KEYS``: times, ids of
records and documents, products, topics...); a string under any other key is withheld
(``"[withheld]"``) until someone classifies that key here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

__all__ = [
    "PUBLIC_KEYS",
    "WITHHELD",
    "DataClass",
    "classify",
    "mask_evidence",
    "mask_fields",
    "mask_name",
    "mask_phone",
    "mask_plate",
    "mask_reference",
]

WITHHELD = "[withheld]"


class DataClass(StrEnum):
    PERSON_NAME = "person_name"
    PHONE = "phone"
    VEHICLE_PLATE = "vehicle_plate"
    PAYMENT_REFERENCE = "payment_reference"
    IDENTITY_NUMBER = "identity_number"
    ADDRESS = "address"


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(1, len(value) - 1) if value else value


def mask_phone(value: str) -> str:
    digits = len(value)
    if digits <= 4:
        return "*" * digits
    if digits < 8:
        return "*" * (digits - 4) + value[-4:]
    return value[:3] + "*" * (digits - 7) + value[-4:]


def mask_plate(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_reference(value: str) -> str:
    return "*" * max(0, len(value) - 4) + value[-4:] if value else value


def _mask_all(value: str) -> str:
    return "*" * len(value)


def _mask_address(value: str) -> str:
    return value[:6] + "*" * max(0, len(value) - 6)


MASKERS: dict[DataClass, Callable[[str], str]] = {
    DataClass.PERSON_NAME: mask_name,
    DataClass.PHONE: mask_phone,
    DataClass.VEHICLE_PLATE: mask_plate,
    DataClass.PAYMENT_REFERENCE: mask_reference,
    DataClass.IDENTITY_NUMBER: _mask_all,
    DataClass.ADDRESS: _mask_address,
}

_PEOPLE = {"driver", "contact", "inspector", "person", "full", "owner", "operator", "officer"}
_WORDS = re.compile(r"[a-z0-9]+")

#: Evidence keys whose string values are not personal (rules' own fields).
PUBLIC_KEYS = frozenset(
    {
        "window", "source", "query", "gateway", "gateways", "department", "checked_at",
        "to", "from", "result", "product", "problem", "problems", "order_id", "kind",
        "worker", "verification", "valid_until", "unloading_start", "unloading_end",
        "topics", "topic", "store", "start", "since", "skewed_since", "signed_at",
        "seal_state", "seal_no", "reason", "record_type", "record_no", "received_at",
        "rectification_due", "period", "performed_at", "opening_at", "offline_since",
        "nozzle", "measurement", "last_message_at", "last_at", "kids", "inspection_no",
        "inspected_at", "first_seen", "first_at", "document_ref", "document", "direction",
        "device", "declaration_no", "closing_at", "clock", "station", "district", "tank",
        "category", "severity", "subject", "status", "state", "unit", "rule", "rule_id",
        "note", "title", "title_zh", "title_en", "message_zh", "message_en", "time",
        "ts", "at", "end", "until", "date", "day", "hour", "licence_no", "licence_kind",
    }
)  # fmt: skip


def classify(key: str) -> DataClass | None:
    """The personal-data class of a field name, or None if its name says none."""
    words = set(_WORDS.findall(key.lower()))
    joined = key.lower()
    if words & {"phone", "mobile", "tel", "telephone"}:
        return DataClass.PHONE
    if words & {"plate", "vehicle"} or "licenceplate" in joined:
        return DataClass.VEHICLE_PLATE
    if words & {"payment", "card", "account", "iban"} and "idcard" not in joined:
        return DataClass.PAYMENT_REFERENCE if "id" not in words else DataClass.IDENTITY_NUMBER
    if words & {"idcard", "identity", "passport"} or {"id", "no"} <= words:
        return DataClass.IDENTITY_NUMBER
    if words & {"address", "addr"}:
        return DataClass.ADDRESS
    if words & {"driver", "person"} or ("name" in words and words & _PEOPLE):
        return DataClass.PERSON_NAME
    return None


def _mask_value(value: Any, data_class: DataClass) -> Any:
    if isinstance(value, str):
        return MASKERS[data_class](value)
    if isinstance(value, list):
        return [_mask_value(v, data_class) for v in value]
    if isinstance(value, dict):
        return mask_evidence(value)
    return value


def _withhold(value: Any) -> Any:
    """An unclassified key's value: strings withheld, structure and measurements kept."""
    if isinstance(value, str):
        return WITHHELD
    if isinstance(value, list):
        return [_withhold(v) for v in value]
    if isinstance(value, dict):
        return mask_evidence(value)
    return value


def mask_evidence(value: Any) -> Any:
    if isinstance(value, list):
        return [mask_evidence(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        data_class = classify(str(key))
        if data_class is not None:
            out[key] = _mask_value(item, data_class)
        elif str(key) in PUBLIC_KEYS or not isinstance(item, str | list):
            out[key] = mask_evidence(item)
        else:
            out[key] = _withhold(item)
    return out


def mask_fields(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Mask the named fields of a flat record, each by its class (fully if unclassified)."""
    out = dict(data)
    for key in fields:
        value = out.get(key)
        if isinstance(value, str):
            data_class = classify(key)
            out[key] = MASKERS[data_class](value) if data_class else _mask_all(value)
    return out
