"""Counting unauthenticated refusals in memory: bounded however many clients an attacker uses, and no
count lost when a flush fails."""

from __future__ import annotations

from kaigo.security.refusals import OVERFLOW, RefusalCounter, RefusalKey


def _key(addr: str, reason: str = "missing") -> RefusalKey:
    return RefusalKey("auth.token", "denied", "anonymous", addr, reason)


def test_many_client_addresses_fold_into_one_overflow_row_per_reason() -> None:
    counter = RefusalCounter(max_keys=3)
    for n in range(10):
        counter.count(_key(f"203.0.113.{n}"), "GET /x")
    entries = counter.entries(counter.drain())
    assert len(entries) == 4  # three addresses, then everything else under one key
    overflow = next(e for e in entries if e.client_addr == OVERFLOW)
    assert overflow.detail["count"] == 7 and overflow.actor == OVERFLOW
    assert sum(e.detail["count"] for e in entries) == 10
    assert counter.pending() == 0


def test_a_row_carries_the_count_the_period_and_a_few_paths() -> None:
    counter = RefusalCounter()
    for n in range(8):
        counter.count(_key("198.51.100.1", "expired"), f"GET /persons/{n}")
    [entry] = counter.entries(counter.drain())
    assert entry.detail["count"] == 8 and entry.detail["reason"] == "expired"
    assert entry.detail["sample_paths"] == [f"GET /persons/{n}" for n in range(5)]
    assert (
        entry.detail["first_at"] <= entry.detail["last_at"]
        and entry.at.isoformat() == entry.detail["first_at"]
    )


def test_counts_put_back_after_a_failed_flush_are_not_lost() -> None:
    counter = RefusalCounter()
    counter.count(_key("192.0.2.1"), "GET /a")
    taken = counter.drain()
    counter.count(_key("192.0.2.1"), "GET /b")  # arrives while the failed flush was in flight
    counter.put_back(taken)
    [entry] = counter.entries(counter.drain())
    assert entry.detail["count"] == 2 and entry.detail["sample_paths"] == ["GET /a", "GET /b"]
