"""What a gateway process loads: the station side only.

A fresh interpreter builds a gateway with one device of every type (the same objects
`fuelwatch gateway run` builds) and signs once. It must not have imported the cloud, the
composition root's demo or local stack, the simulator, any server-side package, or
cryptography (whose own OpenSSL is ~9 MB of a 50 MB budget; the gateway signs with libsodium).
The fresh-venv test beside this one proves the same on a real install; this one runs in a
second and names the module that slipped in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from fuelwatch.core import wire

FORBIDDEN = (
    "fuelwatch.cloud",
    "fuelwatch.demo",
    "fuelwatch.stack",
    "fuelwatch.sim",
    "cryptography",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "openpyxl",
    "uvicorn",
    "pydantic_settings",
    "httpx",
)


def test_a_gateway_loads_nothing_of_the_server_side_nor_cryptography(tmp_path: Path) -> None:
    key = tmp_path / "signing.key"
    key.write_bytes(wire.generate_private_key_pem())
    tcp = {"kind": "tcp", "host": "127.0.0.1", "port": 1}
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "gateway_id": "gw-IM1",
                "district": "d1",
                "station": "IM1",
                "signing_key": str(key),
                "spool": {"path": str(tmp_path / "spool.db")},
                "devices": [
                    {"type": "tls350", "id": "atg1", "transport": tcp},
                    {
                        "type": "modbus",
                        "id": "disp1",
                        "profile": "taxcontrol_dispenser_collector.yaml",
                        "nozzles": 2,
                        "transport": tcp,
                    },
                    {"type": "pos_push", "id": "pos", "host": "127.0.0.1", "port": 1},
                    {"type": "simulated_tank_gauge", "id": "atg2"},
                    {"type": "simulated_dispenser", "id": "disp2"},
                ],
            }
        )
    )
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import fuelwatch.cli, fuelwatch.gateway.cli
        from fuelwatch.gateway.app import Gateway
        from fuelwatch.gateway.settings import load_gateway_config
        gateway = Gateway(load_gateway_config(Path({str(config)!r})))
        assert len(gateway.adapters) == 5
        gateway.signer.sign_b64(b"x")
        print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
