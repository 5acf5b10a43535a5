"""Replay bookkeeping: which sequence numbers count as already committed."""

from __future__ import annotations

import random

from fuelwatch.cloud.ingest.sequence import MAX_HOLES, SeqWindow


def test_in_order_numbers_are_new_once() -> None:
    w = SeqWindow()
    for seq in range(1, 100):
        assert not w.seen(seq)
        w.add(seq)
        assert w.seen(seq)
    assert w.holes == []
    assert w.hwm == 99


def test_out_of_order_numbers_fill_holes() -> None:
    w = SeqWindow()
    w.add(10)
    assert w.holes == [[1, 9]]
    assert not w.seen(5)
    w.add(5)
    assert w.seen(5)
    assert w.holes == [[1, 4], [6, 9]]
    for seq in (1, 4, 6, 9):
        w.add(seq)
    assert w.holes == [[2, 3], [7, 8]]


def test_random_order_matches_a_plain_set() -> None:
    rng = random.Random(3)
    order = list(range(1, 2001))
    rng.shuffle(order)
    w, seen = SeqWindow(), set()
    for seq in order[:1500]:
        w.add(seq)
        seen.add(seq)
    for seq in range(1, 2101):
        assert w.seen(seq) == (seq in seen)


def test_round_trip_through_storage() -> None:
    w = SeqWindow()
    for seq in (3, 7, 20):
        w.add(seq)
    back = SeqWindow.load(w.hwm, w.dumps())
    assert back == w


def test_hole_list_is_bounded() -> None:
    w = SeqWindow()
    for seq in range(2, 2 * (MAX_HOLES + 10), 2):
        w.add(seq)
    assert len(w.holes) == MAX_HOLES
    assert w.seen(1)  # forgotten holes count as seen: a very old number is a replay
