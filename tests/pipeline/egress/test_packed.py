"""Packed internal records land on their keys' partitions, in order."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from pipeline.egress.packed import pack, partition_of, unpack


def test_entries_go_to_the_partition_kafka_gives_their_key_in_order() -> None:
    partitioner = DefaultPartitioner()
    entries = [(f"member-{n % 37}", {"n": n}) for n in range(2000)]
    messages = pack(entries, 4, chunk=100)
    seen: dict[str, list[int]] = {}
    for partition, value in messages:
        chunk = unpack(value)
        assert 0 < len(chunk) <= 100
        for key, entry in chunk:
            assert partition == partition_of(key, 4) == partitioner(
                key.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
            seen.setdefault(key, []).append(entry["n"])
    assert sum(len(v) for v in seen.values()) == len(entries)
    assert all(v == sorted(v) for v in seen.values())  # each key's entries keep their order
    assert pack([], 4) == []
