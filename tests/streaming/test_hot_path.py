"""The checker never holds ingest up: with the warnings table locked, telemetry still flows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from fuelwatch.cloud.ingest.streaming.rules import SIGNATURE_FAILURE
from tests.streaming.support import FAST, signed, station_client, tampered, thresholds, topic_of
from tests.streaming.support import warnings as stored_warnings
from tests.support.env import StackEnv, eventually


@pytest.fixture
def pg_env(make_env: Callable[..., StackEnv], postgres_url: str) -> StackEnv:
    return make_env(registry_url=postgres_url)


@pytest.fixture
def lock_warnings(postgres_url: str) -> Iterator[Callable[[], psycopg.Connection]]:
    plain = postgres_url.replace("+psycopg", "")
    conns: list[psycopg.Connection] = []

    def lock() -> psycopg.Connection:
        conn = psycopg.connect(plain)
        conn.execute("LOCK TABLE warnings IN ACCESS EXCLUSIVE MODE")  # held until rollback
        conns.append(conn)
        return conn

    yield lock
    for conn in conns:
        conn.rollback()
        conn.close()


def rejected_rows(env: StackEnv) -> int:
    return len(env.query('SELECT "size" FROM "rejected"'))


def waiting_on_warnings(url: str) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'warnings'::regclass"
        ).fetchone()
    return int(row[0]) if row else 0


async def test_ingest_stores_and_acks_while_the_registry_blocks_the_checker(
    pg_env: StackEnv, postgres_url: str, lock_warnings: Callable[[], psycopg.Connection]
) -> None:
    env = pg_env
    a = env.provision("HP01")
    ta = topic_of(env, "HP01")
    thresholds(env, SIGNATURE_FAILURE, min_failures=1, window_seconds=600)
    async with env.ingest(**FAST, streaming_queue_size=5) as ingest, station_client(env, a) as ca:
        streaming = ingest.streaming
        assert streaming is not None
        await eventually(lambda: streaming.stats.ticks >= 1, what="checker started")
        lock = lock_warnings()
        for seq in range(1, 6):
            await ca.publish(ta, tampered(a, ta, seq))
        # the checker's round is now stuck on the locked table ...
        await eventually(lambda: waiting_on_warnings(postgres_url) >= 1, what="checker blocked")
        ticks = streaming.stats.ticks
        # ... and ingest goes on storing and acknowledging everything
        for seq in range(6, 26):
            await ca.publish(ta, signed(a, ta, seq) if seq % 2 else tampered(a, ta, seq))
        await env.wait_count("tank_inventory", 10)
        await eventually(lambda: rejected_rows(env) == 15, what="15 rejections stored")
        await eventually(lambda: ingest.unacked == 0 and ingest.pending == 0, what="all acked")
        assert ingest.stats.accepted_messages == 10
        assert streaming.stats.ticks == ticks  # still stuck
        # 20 events met a queue of 5 that could not drain: the rest counted, not waited for
        assert streaming.stats.overflow >= 15
        assert waiting_on_warnings(postgres_url) >= 1
        lock.rollback()
        (w,) = await eventually(lambda: stored_warnings(env, SIGNATURE_FAILURE), what="warning")
    assert w["station"] == "HP01"
    assert w["evidence"]["by_reason"]["bad_signature"] >= 5
