"""The POS push endpoint: the station's POS / management system (零管系统) sends 进销存 here.

A small HTTP/1.1 server (``h11`` over asyncio streams; no web framework, the gateway targets
<= 50 MB RSS). ``POST /v1/sales``, ``/v1/deliveries``, ``/v1/inventory`` take a JSON list of
rows; each row is one ``PosSaleRecord`` / ``PosDeliveryRecord`` / ``PosInventoryRecord``
without ``rid`` and ``gts`` (the gateway sets those). A request is all or nothing:

- every row valid -> all are committed to the spool (``sink.put``), then ``200
  {"accepted": n}``; the POS may forget the rows once it has the 200;
- any row invalid -> ``400`` with the errors of every bad row, nothing stored;
- ``401`` without the right ``Authorization: Bearer <token>`` (when a token is set);
- ``413`` for a body over ``max_body_bytes`` or more than ``max_rows`` rows;
- ``503`` when the spool could not commit (the POS retries).

The endpoint does not deduplicate: a POS that retries after a lost answer sends the rows
again; POS rows carry their own identity (``order_id``, ``waybill_id``, tank + day), which
the cloud uses as the natural key. See docs/simulator.md, "POS push API".
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass

import h11
import orjson
from pydantic import ValidationError

from fuelwatch.core.devices.pos import PosPushConfig
from fuelwatch.core.records import BaseRecord, PosDeliveryRecord, PosInventoryRecord, PosSaleRecord
from fuelwatch.gateway.adapters.base import Adapter, AdapterContext, RecordSink

__all__ = ["ENDPOINTS", "PosPushAdapter"]

ENDPOINTS: dict[str, type[BaseRecord]] = {
    "/v1/sales": PosSaleRecord,
    "/v1/deliveries": PosDeliveryRecord,
    "/v1/inventory": PosInventoryRecord,
}
GATEWAY_FIELDS = ("rid", "gts")
MAX_REPORTED_ERRORS = 100
READ_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class _Conn:
    conn: h11.Connection
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class _Reply(Exception):
    """Answer the current request with this status and body, then close the connection."""

    def __init__(self, status: int, body: dict[str, object], *, close: bool = True) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.close = close


class PosPushAdapter(Adapter):
    config: PosPushConfig

    def __init__(self, config: PosPushConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self.port: int | None = None  # the bound port, once listening
        self.listening = asyncio.Event()
        self.accepted_rows = 0
        self.rejected_requests = 0
        self._connections = 0
        self._token = config.token.get_secret_value().encode() if config.token else None

    def state(self) -> str:
        return "ok" if self.listening.is_set() else "starting"

    async def run(self, sink: RecordSink) -> None:
        handlers: set[asyncio.Task[None]] = set()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._connection(sink, reader, writer)
            except asyncio.CancelledError:
                # only ``run`` cancels these leaf tasks, on shutdown; ending quietly keeps
                # Python 3.11's stream callback from logging the cancellation as an error
                return
            finally:
                handlers.discard(task)

        server = await asyncio.start_server(serve, self.config.host, self.config.port)
        self.port = server.sockets[0].getsockname()[1]
        self.log.info("POS push endpoint on http://%s:%d/v1/", self.config.host, self.port)
        self.listening.set()
        try:
            async with server:
                await server.serve_forever()
        finally:
            self.listening.clear()
            for task in handlers:  # connections end with the endpoint, mid-request or idle
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    # -- one connection ----------------------------------------------------------------------

    async def _connection(
        self, sink: RecordSink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        c = _Conn(h11.Connection(h11.SERVER), reader, writer)
        self._connections += 1
        busy = self._connections > self.config.max_connections
        try:
            while True:
                try:
                    event = await self._next(c, self.config.idle_timeout)
                    if not isinstance(event, h11.Request):
                        return  # the client closed (or sent nothing) between requests
                    status, body = await self._request(c, event, sink, busy=busy)
                    reply = _Reply(status, body, close=False)
                except _Reply as exc:
                    reply = exc
                except h11.RemoteProtocolError as exc:
                    reply = _Reply(400, {"error": f"bad HTTP: {exc}"})
                if c.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                    return
                await self._send(c, reply)
                if reply.close or c.conn.states[h11.SERVER] is not h11.DONE:
                    return
                c.conn.start_next_cycle()
        except (TimeoutError, ConnectionError, h11.LocalProtocolError):
            pass
        finally:
            self._connections -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def _next(self, c: _Conn, timeout: float) -> object:
        while True:
            event = c.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(c.reader.read(READ_CHUNK), timeout)
            c.conn.receive_data(data)

    async def _request(
        self, c: _Conn, request: h11.Request, sink: RecordSink, *, busy: bool
    ) -> tuple[int, dict[str, object]]:
        if busy:  # answered once the request head is in, so that the client reads it
            raise _Reply(503, {"error": "too many connections; retry"})
        path = request.target.decode("ascii", "replace").split("?", 1)[0]
        model = ENDPOINTS.get(path)
        if model is None:
            raise _Reply(404, {"error": f"no endpoint {path}", "endpoints": sorted(ENDPOINTS)})
        if request.method != b"POST":
            raise _Reply(405, {"error": "use POST"})
        headers = dict(request.headers)
        if self._token is not None:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self._token):
                self.rejected_requests += 1
                raise _Reply(401, {"error": "missing or wrong bearer token"})
        length = headers.get(b"content-length")
        if length is not None and int(length) > self.config.max_body_bytes:
            self.rejected_requests += 1
            raise _Reply(413, {"error": f"body over {self.config.max_body_bytes} bytes"})
        records, errors = self._parse(model, await self._body(c))
        if errors:
            self.rejected_requests += 1
            self.log.warning("POS push to %s refused: %d bad row(s)", path, len(errors))
            return 400, {
                "error": f"{len(errors)} invalid row(s); nothing was stored",
                "errors": errors[:MAX_REPORTED_ERRORS],
            }
        try:
            await sink.put(self.device_id, records)
        except Exception:
            self.log.exception("POS push to %s: spool commit failed", path)
            raise _Reply(503, {"error": "could not store the rows; retry"}, close=False) from None
        self.accepted_rows += len(records)
        return 200, {"accepted": len(records)}

    async def _body(self, c: _Conn) -> bytes:
        if c.conn.they_are_waiting_for_100_continue:
            go_on = h11.InformationalResponse(status_code=100, headers=[])
            c.writer.write(c.conn.send(go_on) or b"")
        parts: list[bytes] = []
        size = 0
        while True:
            event = await self._next(c, self.config.timeout)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.config.max_body_bytes:
                    self.rejected_requests += 1
                    raise _Reply(413, {"error": f"body over {self.config.max_body_bytes} bytes"})
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:
                raise _Reply(400, {"error": "incomplete request body"})

    def _parse(
        self, model: type[BaseRecord], body: bytes
    ) -> tuple[list[BaseRecord], list[dict[str, object]]]:
        try:
            rows = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Reply(400, {"error": f"body is not JSON: {exc}"}, close=False) from None
        if not isinstance(rows, list):
            raise _Reply(400, {"error": "body must be a JSON list of rows"}, close=False)
        if len(rows) > self.config.max_rows:
            raise _Reply(413, {"error": f"more than {self.config.max_rows} rows"}, close=False)
        now = self.ctx.clock()
        records: list[BaseRecord] = []
        errors: list[dict[str, object]] = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append({"row": i, "field": "", "message": "a row must be a JSON object"})
                continue
            taken = [f for f in GATEWAY_FIELDS if f in row]
            if taken:
                errors.append({"row": i, "field": taken[0], "message": "set by the gateway"})
                continue
            try:
                records.append(model.model_validate({**row, "gts": now}))
            except ValidationError as exc:
                errors.extend(
                    {
                        "row": i,
                        "field": ".".join(str(p) for p in err["loc"]),
                        "message": err["msg"],
                    }
                    for err in exc.errors()
                )
        return records, errors

    # -- writing -----------------------------------------------------------------------------

    async def _send(self, c: _Conn, reply: _Reply) -> None:
        body = orjson.dumps(reply.body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if reply.close:
            headers.append((b"connection", b"close"))
        if reply.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="pos"'))
        conn = c.conn
        data = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
        data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        c.writer.write(data)
        await c.writer.drain()
