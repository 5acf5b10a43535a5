"""The gateway spool: commit before publish, confirm after, bounded loudly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Signer, generate_private_key_pem, seal_records
from fuelwatch.gateway.spool import SEQ_BLOCK, Spool


def rec(i: int) -> InventoryRecord:
    return InventoryRecord(ts=1_000 + i, tank=1, product="92", volume=float(i), height=1.0)


def spool(path: Path, **kw: object) -> Spool:
    return Spool(path, district="d", station="s", **kw)  # type: ignore[arg-type]


async def test_put_read_confirm(tmp_path: Path) -> None:
    async with spool(tmp_path / "s.db") as s:
        await s.put("atg1", [rec(i) for i in range(10)])
        rows = await s.read(100)
        assert [r.rid for r in rows] == list(range(1, 11))
        assert rows[0].topic == "fuel/v1/d/s/atg1/inventory"
        await s.confirm([r.rid for r in rows[:4]])
        assert [r.rid for r in await s.read(100)] == list(range(5, 11))
        assert s.stats().backlog == 6


async def test_records_survive_reopen_and_ids_are_never_reused(tmp_path: Path) -> None:
    async with spool(tmp_path / "s.db") as s:
        await s.put("atg1", [rec(i) for i in range(5)])
        await s.confirm([5])
    async with spool(tmp_path / "s.db") as s:
        assert s.stats().backlog == 4
        await s.put("atg1", [rec(9)])
        assert [r.rid for r in await s.read(10)] == [1, 2, 3, 4, 6]


async def test_concurrent_puts_share_commits(tmp_path: Path) -> None:
    async with spool(tmp_path / "s.db") as s:
        await asyncio.gather(*(s.put("atg1", [rec(i)]) for i in range(200)))
        assert s.stats().backlog == 200
        assert len(await s.read(1000)) == 200


async def test_sequence_numbers_are_unique_across_restarts(tmp_path: Path) -> None:
    seen: list[int] = []
    for _ in range(3):
        async with spool(tmp_path / "s.db") as s:
            seen += [await s.next_seq() for _ in range(5)]
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)
    assert seen[5] == SEQ_BLOCK + 1  # a restart skips the rest of the reserved block


async def test_age_bound_drops_oldest_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with spool(tmp_path / "s.db", max_age_days=1) as s:
        await s.put("atg1", [rec(i) for i in range(3)])
        now = s.stats().oldest
        assert now is not None
        with caplog.at_level(logging.ERROR):
            assert await s.enforce_bounds(now + 86_400_000 - 1) == 0
            assert await s.enforce_bounds(now + 86_400_000 + 1) == 3
        assert "SPOOL FULL: dropped 3" in caplog.text
        assert s.stats().dropped == 3
        assert s.stats().backlog == 0
    async with spool(tmp_path / "s.db") as s:
        assert s.stats().dropped == 3  # the counter is persistent


async def test_size_bound_drops_oldest_first_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with spool(tmp_path / "s.db", max_bytes=2000) as s:
        with caplog.at_level(logging.ERROR):
            await s.put("atg1", [rec(i) for i in range(100)])  # the cap applies on the write
        stats = s.stats()
        assert 0 < stats.dropped < 100
        assert stats.backlog == 100 - stats.dropped
        assert stats.backlog_bytes <= 2000
        assert stats.alarm.startswith("spool_full")
        assert f"SPOOL FULL: dropped {stats.dropped} oldest" in caplog.text
        rows = await s.read(1000)
        assert rows[0].rid == stats.dropped + 1  # the oldest went first
        assert rows[-1].rid == 100
        assert s.dropped_event.is_set()


async def test_skip_topics(tmp_path: Path) -> None:
    async with spool(tmp_path / "s.db") as s:
        await s.put("atg1", [rec(1)])
        await s.put("atg2", [rec(2)])
        rows = await s.read(10, skip_topics=["fuel/v1/d/s/atg1/inventory"])
        assert [r.topic for r in rows] == ["fuel/v1/d/s/atg2/inventory"]


async def test_sealed_envelopes_are_rebuilt_byte_for_byte_until_confirmed(tmp_path: Path) -> None:
    signer = Signer.from_pem(generate_private_key_pem())
    topic = "fuel/v1/d/s/atg1/inventory"
    async with spool(tmp_path / "s.db") as s:
        await s.put("atg1", [rec(i) for i in range(5)])
        rows = await s.read(10)
        env = seal_records(
            topic=topic,
            signer=signer,
            gateway_id="gw",
            seq=await s.next_seq(),
            boot=1,
            sent=2,
            records=[(r.rid, r.body) for r in rows[:3]],
        )
        await s.seal([(1, topic, env.prefix, env.trailer, [r.rid for r in rows[:3]])])
        assert [r.rid for r in await s.read(10)] == [4, 5]  # sealed records are not read again
    async with spool(tmp_path / "s.db") as s:  # a restart: still waiting, same bytes
        assert [(e.seq, e.records) for e in await s.outstanding()] == [(1, 3)]
        assert await s.payload(1) == (topic, env.payload)
        assert await s.confirm_envelopes([1, 99]) == 3
        assert await s.outstanding() == []
        assert s.stats().backlog == 2


async def test_a_drop_breaks_the_envelopes_it_cuts_into(tmp_path: Path) -> None:
    async with spool(tmp_path / "s.db", max_age_days=1) as s:
        await s.put("atg1", [rec(i) for i in range(4)])
        await s.seal([(7, "t", b"{", b"{}", [1, 2, 3, 4])])
        oldest = s.stats().oldest
        assert oldest is not None
        assert await s.enforce_bounds(oldest + 86_400_001) == 4
        assert s.take_broken() == {7}
        assert await s.outstanding() == []
