"""A stand-in for Grafana: a real HTTP server on 127.0.0.1 with the endpoints the sync calls.

NOT Grafana. It keeps teams, users, folders, folder permissions and contact points in memory
and answers in the shapes Grafana 11's HTTP API documents (paging, basic auth, 409 on a
duplicate, folder creators getting Admin and the Viewer/Editor role defaults on a new
folder). The sync has not been run against a real Grafana.

``HttpTransport`` is the sync's transport over httpx for these tests; production uses
grafana-client's (the ``[grafana]`` extra).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx

from fuelwatch.cloud.grafana.sync.api import GrafanaApiError

ADMIN = ("admin", "stub-admin-password")


@dataclass
class StubState:
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    users: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            1: {"id": 1, "login": "admin", "name": "admin", "email": "", "isDisabled": False}
        }
    )
    teams: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    contact_points: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "default": {
                "uid": "default",
                "name": "grafana-default-email",
                "type": "email",
                "settings": {"addresses": "<example@email.com>"},
            }
        }
    )
    requests: list[tuple[str, str]] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def add_folder(self, uid: str, title: str, creator: int = 1) -> None:
        self.folders[uid] = title
        self.permissions[uid] = [
            {"role": "Viewer", "permission": 1},
            {"role": "Editor", "permission": 2},
            {"userId": creator, "permission": 4},
        ]


class _Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _page(items: list[Any], query: dict[str, list[str]], size_key: str) -> list[Any]:
    size = int(query.get(size_key, ["1000"])[0])
    page = int(query.get("page", ["1"])[0])
    return items[(page - 1) * size : page * size]


class _Routes:
    def __init__(self, s: StubState) -> None:
        self.s = s

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        s = self.s
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/api/health", lambda: {"database": "ok", "version": "stub"}),
            ("GET", r"/api/teams/search", lambda: self.search_teams(query)),
            ("POST", r"/api/teams", lambda: self.create_team(body)),
            ("GET", r"/api/teams/(\d+)/members", self.members),
            ("POST", r"/api/teams/(\d+)/members", lambda t: self.add_member(t, body)),
            ("DELETE", r"/api/teams/(\d+)/members/(\d+)", self.remove_member),
            ("GET", r"/api/users", lambda: _page(list(s.users.values()), query, "perpage")),
            ("POST", r"/api/admin/users", lambda: self.create_user(body)),
            ("POST", r"/api/admin/users/(\d+)/(disable|enable)", self.set_disabled),
            (
                "GET",
                r"/api/folders",
                lambda: _page(
                    [{"uid": u, "title": t} for u, t in s.folders.items()], query, "limit"
                ),
            ),
            ("POST", r"/api/folders", lambda: self.create_folder(body)),
            ("GET", r"/api/folders/([\w-]+)/permissions", self.get_permissions),
            (
                "POST",
                r"/api/folders/([\w-]+)/permissions",
                lambda uid: self.set_permissions(uid, body),
            ),
            (
                "GET",
                r"/api/v1/provisioning/contact-points",
                lambda: list(s.contact_points.values()),
            ),
            ("POST", r"/api/v1/provisioning/contact-points", lambda: self.create_point(body)),
            (
                "PUT",
                r"/api/v1/provisioning/contact-points/([\w-]+)",
                lambda uid: self.update_point(uid, body),
            ),
        ]
        for verb, pattern, fn in routes:
            m = re.fullmatch(pattern, path)
            if verb == method and m:
                return fn(*m.groups())
        raise _Error(404, f"no route {method} {path}")

    def search_teams(self, query: dict[str, list[str]]) -> dict[str, Any]:
        teams = _page(list(self.s.teams.values()), query, "perpage")
        return {"totalCount": len(self.s.teams), "teams": teams, "page": 1, "perPage": 1000}

    def create_team(self, body: dict[str, Any]) -> dict[str, Any]:
        if any(t["name"] == body["name"] for t in self.s.teams.values()):
            raise _Error(409, "Team name taken")
        tid = next(self.s.ids)
        self.s.teams[tid] = {"id": tid, "name": body["name"], "email": ""}
        self.s.members[tid] = set()
        return {"message": "Team created", "teamId": tid}

    def _team(self, team: str) -> int:
        if int(team) not in self.s.teams:
            raise _Error(404, "Team not found")
        return int(team)

    def members(self, team: str) -> list[dict[str, Any]]:
        tid = self._team(team)
        return [
            {"teamId": tid, "userId": uid, "login": self.s.users[uid]["login"]}
            for uid in sorted(self.s.members[tid])
        ]

    def add_member(self, team: str, body: dict[str, Any]) -> dict[str, str]:
        tid, uid = self._team(team), int(body["userId"])
        if uid not in self.s.users:
            raise _Error(404, "User not found")
        if uid in self.s.members[tid]:
            raise _Error(400, "User is already added to this team")
        self.s.members[tid].add(uid)
        return {"message": "Member added to Team"}

    def remove_member(self, team: str, user: str) -> dict[str, str]:
        tid = self._team(team)
        if int(user) not in self.s.members[tid]:
            raise _Error(404, "Team member not found")
        self.s.members[tid].discard(int(user))
        return {"message": "Team Member removed"}

    def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("password"):
            raise _Error(400, "password is missing")
        if any(u["login"] == body["login"] for u in self.s.users.values()):
            raise _Error(412, "User with same login already exists")
        uid = next(self.s.ids)
        self.s.users[uid] = {
            "id": uid,
            "login": body["login"],
            "name": body.get("name", ""),
            "email": body.get("email", body["login"]),
            "isDisabled": False,
        }
        return {"id": uid, "message": "User created"}

    def set_disabled(self, user: str, action: str) -> dict[str, str]:
        if int(user) not in self.s.users:
            raise _Error(404, "User not found")
        self.s.users[int(user)]["isDisabled"] = action == "disable"
        return {"message": f"User {action}d"}

    def create_folder(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["uid"] in self.s.folders:
            raise _Error(409, "a folder with the same uid already exists")
        self.s.add_folder(body["uid"], body["title"])
        return {"uid": body["uid"], "title": body["title"]}

    def get_permissions(self, uid: str) -> list[dict[str, Any]]:
        if uid not in self.s.folders:
            raise _Error(404, "Folder not found")
        out = []
        for item in self.s.permissions[uid]:
            row = dict(item)
            if "teamId" in row:
                row["team"] = self.s.teams[row["teamId"]]["name"]
            if "userId" in row:
                row["userLogin"] = self.s.users[row["userId"]]["login"]
            out.append(row)
        return out

    def set_permissions(self, uid: str, body: dict[str, Any]) -> dict[str, str]:
        if uid not in self.s.folders:
            raise _Error(404, "Folder not found")
        for item in body["items"]:
            if "teamId" in item and item["teamId"] not in self.s.teams:
                raise _Error(400, "unknown team")
        self.s.permissions[uid] = [dict(i) for i in body["items"]]
        return {"message": "Folder permissions updated"}

    def create_point(self, body: dict[str, Any]) -> dict[str, Any]:
        uid = f"cp{next(self.s.ids)}"
        self.s.contact_points[uid] = {**body, "uid": uid}
        return self.s.contact_points[uid]

    def update_point(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        if uid not in self.s.contact_points:
            raise _Error(404, "contact point not found")
        self.s.contact_points[uid] = {**body, "uid": uid}
        return self.s.contact_points[uid]


def _authorize(presented: str | None, expected: str) -> None:
    if presented != expected:
        raise _Error(401, "Unauthorized")


class GrafanaStub:
    def __init__(self) -> None:
        self.state = StubState()
        routes = _Routes(self.state)
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                expected = "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode()
                with lock:
                    routes.s.requests.append((self.command, url.path))
                    try:
                        _authorize(self.headers.get("Authorization"), expected)
                        status, answer = (
                            200,
                            routes.handle(self.command, url.path, parse_qs(url.query), body),
                        )
                    except _Error as exc:
                        status, answer = exc.status, {"message": exc.message}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="grafana-stub")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class HttpTransport:
    """The sync's transport over httpx (tests only)."""

    def __init__(self, url: str, auth: tuple[str, str] = ADMIN) -> None:
        self.client = httpx.Client(base_url=f"{url}/api", auth=auth, timeout=10)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.client.request(method, path, json=body)
        if resp.status_code >= 400:
            raise GrafanaApiError(method, path, resp.status_code, resp.json().get("message", ""))
        return resp.json()

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def close(self) -> None:
        self.client.close()
