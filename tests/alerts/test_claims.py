"""Two senders claiming at once never get the same outbox row (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine, func, select

from fuelwatch.cloud.alerts.claims import claim_outbox, release_outbox
from fuelwatch.cloud.store.db import make_sessionmaker
from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.core.timeutil import utcnow
from tests.alerts.helpers import make_warnings

LEASE = timedelta(seconds=30)


def test_concurrent_claims_split_the_rows(engine: Engine) -> None:
    events = make_warnings(make_sessionmaker(engine), "d1", "S1", 300)
    claims: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def sender(owner: str) -> None:
        start.wait()
        while ids := claim_outbox(engine, owner=owner, limit=7, lease=LEASE, now=utcnow()):
            claims[owner] += ids
            time.sleep(0.005)  # "work" on the batch: the other sender gets the lock meanwhile

    threads = [threading.Thread(target=sender, args=(o,)) for o in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    a, b = claims["a"], claims["b"]
    assert a, "sender a got work"
    assert b, "sender b got work"
    assert not set(a) & set(b), "no row claimed twice"
    assert sorted(a + b) == list(range(1, events + 1))
    assert a == sorted(a)  # each sender takes rows oldest first
    assert b == sorted(b)
    with make_sessionmaker(engine)() as s:
        rows = s.execute(
            select(AlertOutbox.lease_owner, func.count()).group_by(AlertOutbox.lease_owner)
        )
        owners = {str(owner): int(n) for owner, n in rows}
    assert owners == {"a": len(a), "b": len(b)}


def test_leases_expire_and_release_gives_rows_back(engine: Engine) -> None:
    make_warnings(make_sessionmaker(engine), "d1", "S1", 5)
    now = utcnow()
    first = claim_outbox(engine, owner="a", limit=3, lease=LEASE, now=now)
    assert first == [1, 2, 3]
    b_time = now + timedelta(seconds=20)  # b's lease outlives a's
    assert claim_outbox(engine, owner="b", limit=10, lease=LEASE, now=b_time) == [4, 5]
    assert claim_outbox(engine, owner="b", limit=10, lease=LEASE, now=b_time) == []
    # "a" died: once its lease is over its rows are free again, in order.
    later = now + LEASE + timedelta(seconds=1)
    assert claim_outbox(engine, owner="c", limit=2, lease=LEASE, now=later) == [1, 2]
    release_outbox(engine, [1, 2], owner="c")
    assert claim_outbox(engine, owner="d", limit=10, lease=LEASE, now=later) == [1, 2, 3]
