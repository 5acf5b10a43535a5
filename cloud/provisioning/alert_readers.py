"""Read-only alert recipient accounts in the Mosquitto ACL.

An alert recipient (a department's dispatch system, a district's duty screen) gets its own
MQTT account that may only *read* ``alerts/v1/<district>/#`` for the districts it serves.
Each account is one marked block at the end of the ACL, so adding it again replaces it::

    # >>> alert reader fuelwatch-reader-tax-d1
    user fuelwatch-reader-tax-d1
    topic read alerts/v1/d1/#
    # <<< alert reader fuelwatch-reader-tax-d1

Reader names carry the ``fuelwatch-reader-`` prefix (fuelwatch.core.wire.accounts): no station
id can take it, so no station's provisioning can ever touch a reader's password.

Mosquitto reads the ACL at start and on SIGHUP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fuelwatch.core.wire.accounts import AccountKind, validate_platform_account
from fuelwatch.core.wire.topics import TopicError

__all__ = ["AlertReaderError", "remove_alert_reader", "set_alert_reader"]

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # no + # / or spaces: nothing that widens a topic


class AlertReaderError(ValueError):
    """A user or district name the ACL cannot hold safely."""


def _markers(user: str) -> tuple[str, str]:
    return f"# >>> alert reader {user}", f"# <<< alert reader {user}"


def _without(text: str, user: str) -> str:
    begin, end = _markers(user)
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line == begin:
            skipping = True
        elif line == end and skipping:
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


def set_alert_reader(
    acl_file: Path, user: str, districts: Sequence[str], *, prefix: str = "alerts/v1"
) -> None:
    """Add or replace ``user``'s block: read-only on each district's alerts."""
    try:
        validate_platform_account(user, AccountKind.ALERT_READER)
    except TopicError as exc:
        raise AlertReaderError(str(exc)) from exc
    for name in districts:
        if not NAME.match(name):
            raise AlertReaderError(f"{name!r} is not a safe ACL name (A-Z a-z 0-9 _ . -)")
    if not districts:
        raise AlertReaderError("an alert reader needs at least one district")
    begin, end = _markers(user)
    block = [begin, f"user {user}"]
    block += [f"topic read {prefix}/{d}/#" for d in sorted(set(districts))]
    block.append(end)
    text = _without(acl_file.read_text(encoding="utf-8"), user)
    tmp = acl_file.with_name(acl_file.name + ".tmp")
    tmp.write_text(text + "\n" + "\n".join(block) + "\n", encoding="utf-8")
    tmp.replace(acl_file)


def remove_alert_reader(acl_file: Path, user: str) -> None:
    text = _without(acl_file.read_text(encoding="utf-8"), user)
    tmp = acl_file.with_name(acl_file.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(acl_file)
