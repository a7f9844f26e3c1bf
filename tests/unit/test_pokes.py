"""Cross-process wake-ups: one payload per commit batch, each under PostgreSQL's NOTIFY limit."""

from __future__ import annotations

import uuid

from ragline.adapters.events.pokes import MAX_PAYLOAD, decode_pokes, encode_pokes


def test_a_batch_of_runs_is_one_payload_naming_them_all() -> None:
    payloads = encode_pokes("p1", ["b", "a", "b"])
    assert payloads == ["p1|a,b"]
    assert decode_pokes(payloads[0]) == ("p1", ["a", "b"])


def test_a_thousand_runs_split_into_few_payloads_under_the_notify_limit() -> None:
    runs = [str(uuid.uuid4()) for _ in range(1000)]
    payloads = encode_pokes("1234-abcdef01", runs)
    assert len(payloads) == 5  # 37 bytes per run id: about 213 per payload
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    decoded = [run for p in payloads for run in decode_pokes(p)[1]]
    assert sorted(decoded) == sorted(runs)


def test_no_runs_means_no_payload_and_a_malformed_payload_names_none() -> None:
    assert encode_pokes("p1", []) == []
    assert decode_pokes("garbage") == ("garbage", [])
