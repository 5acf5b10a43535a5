"""Replay bookkeeping shared by several ingest workers: concurrent commits lose nothing.

Two workers commit interleaved sequence numbers at the same time through their own engines.
Without the write lock around read-modify-write, most numbers were lost and, worse, a
partial ORM update could mix one worker's high-water mark with another's holes, so numbers
never stored looked "seen" and their messages were rejected as replays (found by the
worker-restart fault test).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from fuelwatch.cloud.ingest.sequence import SequenceStore
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker
from fuelwatch.cloud.store.registry import ensure_station, register_gateway
from tests.support.env import StackEnv


def hammer(registry_url: str, seqs: list[int], committed: set[int], lock: threading.Lock) -> None:
    engine = make_engine(registry_url)
    store = SequenceStore(make_sessionmaker(engine))
    try:
        for i in range(0, len(seqs), 3):
            chunk = seqs[i : i + 3]
            for _ in range(50):
                try:
                    store.commit({"gw-seq": chunk}, {})
                    break
                except Exception:
                    continue
            else:
                raise AssertionError(f"could not commit {chunk}")
            with lock:
                committed.update(chunk)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_concurrent_commits_are_all_kept(
    backend: str, make_env: Callable[..., StackEnv], request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    env = make_env(registry_url=url)
    with env.sessions.begin() as session:
        ensure_station(session, district=env.district, station="SQ01")
        register_gateway(session, gateway="gw-seq", station="SQ01")
    evens = list(range(2, 2001, 2))
    odds = list(range(1, 2001, 2))
    random.Random(7).shuffle(odds)
    committed: set[int] = set()
    lock = threading.Lock()
    workers = [
        threading.Thread(target=hammer, args=(env.registry_url, part, committed, lock))
        for part in (evens, odds)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    window = SequenceStore(env.sessions).windows(["gw-seq"])["gw-seq"]
    assert committed == set(range(1, 2001))
    assert [s for s in range(1, 2001) if not window.seen(s)] == []
    assert not window.seen(2001)
