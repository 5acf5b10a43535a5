"""``fuelwatch cloud api``, a fresh process (the compose service with two uvicorn workers):
answers ``/health``, logs a user in, and serves the warning workflow, whose rows join the
users table (a warning's assignee) — the join the old layout could not make in a process
that had not loaded the accounts models."""

from __future__ import annotations

import httpx

from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.stack.process import free_port
from tests.alerts.helpers import make_warnings
from tests.processes.conftest import BOTH
from tests.processes.launch import Launch, Shipped, Site, http_ok

PASSWORD = "process-test-password"
#: uvicorn re-raises SIGTERM after this (one worker; the two-worker supervisor exits 0)
SHUTDOWN = "Application shutdown complete."


@BOTH
async def test_health_login_and_the_warning_workflow(launch: Launch, site: Site) -> None:
    stack = site.stack
    with stack.sessions.begin() as session:  # as the demo makes its first administrator
        admin_id = create_user(
            session,
            username="admin",
            password=PASSWORD,
            department="platform_admin",
            role="system_admin",
            all_districts=True,
        ).id
    make_warnings(stack.sessions, stack.district, "PW01", 2)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = launch.command("api", site, port=port)
    async with (
        Shipped(command, site, ready=lambda: http_ok(f"{url}/health"), killed_after=SHUTDOWN),
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        # anonymous callers learn only ok/degraded; the detail is for system.monitor
        assert (await http.get("/health")).json() == {"status": "ok"}
        assert (await http.get("/api/v1/warnings")).status_code == 401
        login = await http.post(
            "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        health = (await http.get("/health")).json()
        assert health["status"] == "ok"
        assert health["checks"] == {"database": "ok", "influxdb": "ok"}
        for _ in range(4):  # with several workers, more than one of them answers
            listed = await http.get("/api/v1/warnings", params={"station": "PW01"})
            assert listed.status_code == 200, listed.text
            assert listed.json()["total"] == 2
        first = listed.json()["items"][0]["id"]
        assigned = await http.post(
            f"/api/v1/warnings/{first}/assign", json={"assignee_id": admin_id, "note": "核查"}
        )
        assert assigned.status_code == 200, assigned.text
        detail = await http.get(f"/api/v1/warnings/{first}")
        assert detail.status_code == 200, detail.text
        assert detail.json()["assignee_id"] == admin_id
    if "--workers" in command.argv:
        assert command.argv[command.argv.index("--workers") + 1] == "2"
