"""``python -m fuelwatch.gateway.adapters.modbus FILE...``: check profiles and their reading."""

from __future__ import annotations

import sys

from fuelwatch.core.config import ConfigError
from fuelwatch.core.devices.profile import REPEAT_FOR_KIND, load_profile
from fuelwatch.gateway.adapters.modbus.codec import RegisterMap


def main(paths: list[str]) -> int:
    if not paths:
        sys.stderr.write("usage: python -m fuelwatch.gateway.adapters.modbus PROFILE.yaml...\n")
        return 2
    failed = 0
    for path in paths:
        try:
            profile = load_profile(path)
        except ConfigError as exc:
            failed += 1
            sys.stderr.write(f"{exc}\n")
            continue
        count = profile.max_instances()
        reads = RegisterMap(profile, count).plan()
        sys.stdout.write(
            f"{path}: ok: {profile.device.vendor} {profile.device.model} ({profile.kind}); "
            f"{count} {REPEAT_FOR_KIND[profile.kind]}s in {len(reads)} "
            f"read{'s' if len(reads) != 1 else ''}: " + ", ".join(map(str, reads)) + "\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
