"""The few Grafana HTTP endpoints the sync calls, over a small transport.

``GrafanaApi`` builds every path and payload and reads every answer; the transport only
sends a request and decodes the JSON. In production the transport is grafana-client's
low-level client (``GrafanaClientTransport``: authentication, TLS, timeouts, error mapping);
the tests drive ``GrafanaApi`` over plain HTTP against a local stub of these endpoints.

Creating and disabling users uses Grafana's server-admin API (``/api/admin/users``), so the
sync logs in as a Grafana server admin (user and password); a service-account token can do
everything else.
"""

from __future__ import annotations

from typing import Any, Protocol

from fuelwatch.cloud.grafana.sync.state import ContactPoint, UserAccount
from fuelwatch.core.errors import UserFacingError

__all__ = ["GrafanaApi", "GrafanaApiError", "GrafanaClientTransport", "Transport"]

PAGE = 500


class GrafanaApiError(UserFacingError):
    """Grafana refused or could not be reached; ``status`` 0 when there was no answer."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"Grafana {method} {path}: {status or 'no answer'} {message}".strip())
        self.status = status


class Transport(Protocol):
    """``path`` is relative to ``/api``; answers are decoded JSON."""

    def get(self, path: str) -> Any: ...
    def post(self, path: str, body: Any) -> Any: ...
    def put(self, path: str, body: Any) -> Any: ...
    def delete(self, path: str) -> Any: ...


class GrafanaClientTransport:
    """grafana-client (the ``[grafana]`` extra) as the transport."""

    def __init__(self, url: str, *, credential: Any, timeout: float) -> None:
        from grafana_client import GrafanaApi as Client  # noqa: PLC0415

        self._client = Client.from_url(url, credential=credential, timeout=timeout).client

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        from grafana_client.client import GrafanaException  # noqa: PLC0415

        runner = getattr(self._client, method)
        try:
            return runner(path) if body is None else runner(path, json=body)
        except GrafanaException as exc:
            raise GrafanaApiError(method, path, exc.status_code or 0, str(exc.message)) from exc
        except Exception as exc:  # connection refused, DNS, TLS: the HTTP library's own
            raise GrafanaApiError(method, path, 0, str(exc)) from exc

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)


class GrafanaApi:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    # -- teams -------------------------------------------------------------------------------

    def teams(self) -> dict[str, int]:
        out: dict[str, int] = {}
        page = 1
        while True:
            answer = self.t.get(f"/teams/search?perpage={PAGE}&page={page}")
            teams = answer.get("teams") or []
            out |= {t["name"]: int(t["id"]) for t in teams}
            if len(teams) < PAGE:
                return out
            page += 1

    def create_team(self, name: str) -> int:
        return int(self.t.post("/teams", {"name": name})["teamId"])

    def team_members(self, team_id: int) -> set[str]:
        return {m["login"] for m in self.t.get(f"/teams/{team_id}/members")}

    def add_member(self, team_id: int, user_id: int) -> None:
        self.t.post(f"/teams/{team_id}/members", {"userId": user_id})

    def remove_member(self, team_id: int, user_id: int) -> None:
        self.t.delete(f"/teams/{team_id}/members/{user_id}")

    # -- users -------------------------------------------------------------------------------

    def users(self) -> dict[str, tuple[int, UserAccount]]:
        out: dict[str, tuple[int, UserAccount]] = {}
        page = 1
        while True:
            users = self.t.get(f"/users?perpage={PAGE}&page={page}")
            for u in users:
                account = UserAccount(
                    login=u["login"],
                    name=u.get("name") or "",
                    email=u.get("email") or "",
                    disabled=bool(u.get("isDisabled")),
                )
                out[u["login"]] = (int(u["id"]), account)
            if len(users) < PAGE:
                return out
            page += 1

    def create_user(self, user: UserAccount, password: str) -> int:
        body = {"login": user.login, "name": user.name, "password": password}
        if user.email:
            body["email"] = user.email
        return int(self.t.post("/admin/users", body)["id"])

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        self.t.post(f"/admin/users/{user_id}/{'disable' if disabled else 'enable'}", {})

    # -- folders -----------------------------------------------------------------------------

    def folders(self) -> dict[str, str]:
        out: dict[str, str] = {}
        page = 1
        while True:
            folders = self.t.get(f"/folders?limit={PAGE}&page={page}")
            out |= {f["uid"]: f["title"] for f in folders}
            if len(folders) < PAGE:
                return out
            page += 1

    def create_folder(self, uid: str, title: str) -> None:
        self.t.post("/folders", {"uid": uid, "title": title})

    def folder_permissions(self, uid: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.t.get(f"/folders/{uid}/permissions")
        return items

    def set_folder_permissions(self, uid: str, items: list[dict[str, Any]]) -> None:
        """Replaces every permission of the folder with ``items``."""
        self.t.post(f"/folders/{uid}/permissions", {"items": items})

    # -- alerting ----------------------------------------------------------------------------

    def contact_points(self) -> dict[str, tuple[str, ContactPoint]]:
        out: dict[str, tuple[str, ContactPoint]] = {}
        for c in self.t.get("/v1/provisioning/contact-points"):
            if c.get("type") != "webhook":
                continue
            settings = c.get("settings") or {}
            point = ContactPoint(
                c["name"], settings.get("url", ""), settings.get("httpMethod", "POST")
            )
            out[c["name"]] = (c["uid"], point)
        return out

    def _contact_point_body(self, point: ContactPoint) -> dict[str, Any]:
        return {"name": point.name, "type": "webhook", "settings": point.settings()}

    def create_contact_point(self, point: ContactPoint) -> str:
        return str(
            self.t.post("/v1/provisioning/contact-points", self._contact_point_body(point))["uid"]
        )

    def update_contact_point(self, uid: str, point: ContactPoint) -> None:
        self.t.put(f"/v1/provisioning/contact-points/{uid}", self._contact_point_body(point))
