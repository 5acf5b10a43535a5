"""The gateway's resend rules and the cloud's confirmation messages, on tables."""

from __future__ import annotations

import pytest

from fuelwatch.core.wire import Ack, Refusal, WireError, encode_ack, parse_ack, to_ranges
from fuelwatch.gateway.window import Window


def test_ranges_and_ack_round_trip() -> None:
    assert to_ranges([5, 3, 4, 9, 11, 10, 1]) == [(1, 1), (3, 5), (9, 11)]
    ack = Ack(
        gw="gw-1",
        confirmed=[(1, 3), (7, 7)],
        refused=[Refusal(2, "implausible", (88, 90))],
        resend=[(4, 6)],
    )
    back = parse_ack(encode_ack(ack))
    assert back == ack
    assert back.confirms() == {1, 2, 3, 7}


@pytest.mark.parametrize(
    "payload",
    [b"nope", b"[]", b'{"v":2,"gw":"g"}', b'{"v":1}', b'{"v":1,"gw":"g","confirmed":[[3,1]]}'],
)
def test_bad_acks_are_refused(payload: bytes) -> None:
    with pytest.raises(WireError):
        parse_ack(payload)


def test_nothing_is_resent_while_the_cloud_is_silent_until_idle() -> None:
    w = Window(timeout=10, idle=120)
    item = w.add(1, "t", 5)
    w.sent(item, 100.0)
    assert w.due(105.0) == []
    assert w.due(150.0) == []  # no confirmation at all: ingest is away, don't pile copies up
    assert w.due(220.0) == [item]  # idle long enough: resend anyway


def test_a_confirmation_of_a_later_envelope_makes_an_earlier_one_due() -> None:
    w = Window(timeout=10, idle=120)
    first, second = w.add(1, "t", 5), w.add(2, "t", 5)
    w.sent(first, 100.0)
    w.sent(second, 100.5)
    assert [i.seq for i in w.confirm({2}, 101.0)] == [2]
    assert w.due(105.0) == []
    assert w.due(110.0) == [first]  # the cloud is alive and did not confirm it: lost


def test_a_resend_request_is_honoured_once_a_second_in_order() -> None:
    w = Window(timeout=10, idle=120)
    items = [w.add(s, "t", 1) for s in (3, 4, 5)]
    for i in items:
        w.sent(i, 100.0)
    assert w.request([(4, 9)]) == 2
    assert [i.seq for i in w.due(100.5)] == []
    assert [i.seq for i in w.due(101.0)] == [4, 5]
    w.sent(items[1], 101.0)
    assert [i.seq for i in w.due(101.0)] == [5]


def test_a_refused_topic_is_resent_after_the_hold() -> None:
    w = Window(timeout=10, idle=120)
    item = w.add(1, "t", 1)
    w.sent(item, 100.0)
    w.hold(1, 160.0)
    assert w.due(150.0) == []
    assert w.all_due(150.0) == []  # not even after a reconnect
    assert w.due(160.0) == [item]
