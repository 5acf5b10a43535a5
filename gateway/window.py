"""Which sealed envelopes wait for the cloud's confirmation, and when to send them again.

Pure bookkeeping (no I/O), so the resend rules are tested on their own:
- a reconnect resends everything unconfirmed, oldest first (``all_due``);
- the cloud's ``resend`` request resends what it names (once a second at most per envelope);
- an envelope unconfirmed ``timeout`` seconds after its last send is resent if the cloud has
  confirmed anything since (it is alive, so this one was lost), or after ``idle`` seconds
  regardless (so a lost last envelope cannot wait forever). While the cloud says nothing at all
  (ingest down), nothing is resent: the broker's queue for ingest would only fill with copies.
- a topic the broker refused is held back until ``hold_until``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Outstanding", "Window"]

#: A resend request is honoured at most this often per envelope (seconds).
REQUEST_SPACING = 1.0


@dataclass(slots=True)
class Outstanding:
    seq: int
    topic: str
    records: int
    sent_at: float = 0.0  # monotonic; 0 = never sent by this process
    sends: int = 0
    requested: bool = False
    hold_until: float = 0.0


class Window:
    def __init__(self, *, timeout: float, idle: float) -> None:
        self._timeout = timeout
        self._idle = idle
        self.items: dict[int, Outstanding] = {}
        self.last_ack_at = 0.0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, seq: int, topic: str, records: int) -> Outstanding:
        item = self.items[seq] = Outstanding(seq, topic, records)
        return item

    def confirm(self, seqs: set[int], now: float) -> list[Outstanding]:
        """Forget confirmed envelopes; return them. Any confirmation shows the cloud is alive."""
        self.last_ack_at = now
        return [self.items.pop(s) for s in sorted(seqs & self.items.keys())]

    def forget(self, seqs: set[int]) -> None:
        for seq in seqs:
            self.items.pop(seq, None)

    def request(self, ranges: list[tuple[int, int]]) -> int:
        """Mark what the cloud asked for; returns how many envelopes that names."""
        n = 0
        for item in self.items.values():
            if any(lo <= item.seq <= hi for lo, hi in ranges):
                item.requested = True
                n += 1
        return n

    def hold(self, seq: int, until: float) -> None:
        """The broker refused it: send it again once the hold is over."""
        item = self.items.get(seq)
        if item is not None:
            item.hold_until = until
            item.requested = True

    def all_due(self, now: float) -> list[Outstanding]:
        """After a reconnect: everything not held back, oldest first."""
        return [i for i in sorted(self.items.values(), key=_seq) if i.hold_until <= now]

    def due(self, now: float) -> list[Outstanding]:
        out = []
        for item in sorted(self.items.values(), key=_seq):
            if item.hold_until > now:
                continue
            age = now - item.sent_at
            requested = item.requested and age >= REQUEST_SPACING
            timed_out = age >= self._timeout and (
                self.last_ack_at > item.sent_at or age >= self._idle
            )
            # never sent: held back before it ever went out
            if requested or not item.sent_at or timed_out:
                out.append(item)
        return out

    def next_check(self, now: float) -> float:
        """Seconds until something may become due (for the pump's sleep)."""
        waits = [REQUEST_SPACING if i.requested else self._timeout for i in self.items.values()]
        held = [i.hold_until - now for i in self.items.values() if i.hold_until > now]
        return max(0.05, min([*waits, *held], default=self._timeout))

    def sent(self, item: Outstanding, now: float) -> None:
        item.sent_at = now
        item.sends += 1
        item.requested = False


def _seq(item: Outstanding) -> int:
    return item.seq
