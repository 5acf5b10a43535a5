"""Masking of sensitive fields for roles without ``sensitive.read``.

Personal names keep their first character, phone numbers their first three and last four
digits, vehicle plates their province and letter and last two characters, payment
references their last four. Evidence JSON (from rules) is masked by key name, recursively.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SENSITIVE_KEYS",
    "mask_evidence",
    "mask_name",
    "mask_phone",
    "mask_plate",
    "mask_reference",
]


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


SENSITIVE_KEYS = {
    "driver": mask_name,
    "driver_name": mask_name,
    "contact_name": mask_name,
    "inspector_name": mask_name,
    "full_name": mask_name,
    "person": mask_name,
    "phone": mask_phone,
    "driver_phone": mask_phone,
    "contact_phone": mask_phone,
    "vehicle": mask_plate,
    "vehicle_plate": mask_plate,
    "plate": mask_plate,
    "payment": mask_reference,
    "payment_ref": mask_reference,
    "payment_reference": mask_reference,
}


def mask_evidence(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: SENSITIVE_KEYS[k](v)
            if k in SENSITIVE_KEYS and isinstance(v, str)
            else mask_evidence(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_evidence(v) for v in value]
    return value


def mask_fields(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Mask the named fields of a flat record (each by its key's masker)."""
    return {
        k: SENSITIVE_KEYS[k](v) if k in fields and isinstance(v, str) else v
        for k, v in data.items()
    }
