"""Streams survive the trip to disk byte for byte."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pipeline.devtools.generator import GeneratorConfig, generate, read_stream, write_stream


def test_write_then_read_gives_the_same_stream(tmp_path: Path, start: datetime) -> None:
    stream = generate(GeneratorConfig(seed=8, start=start, days=0.3, scale=0.2,
                                      malformed_rate=0.05))
    write_stream(stream, tmp_path / "run")
    again = read_stream(tmp_path / "run")
    assert again.records == stream.records
    assert again.truth == stream.truth
    assert again.truth.minute_counts() == stream.truth.minute_counts()


def test_events_file_is_one_readable_json_line_per_record(tmp_path: Path,
                                                          start: datetime) -> None:
    stream = generate(GeneratorConfig(seed=8, start=start, days=0.2, scale=0.1,
                                      malformed_rate=0.05))
    write_stream(stream, tmp_path)
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(stream.records)
    parsed = [json.loads(line) for line in lines]
    assert {p["kind"] for p in parsed} == {"valid", "late", "duplicate", "malformed"}
    text_values = [p for p in parsed if "value" in p]
    binary_values = [p for p in parsed if "value_b64" in p]
    assert binary_values, "non-UTF-8 garbage is kept as base64"
    assert len(text_values) > 0.9 * len(parsed)
    assert all(p["kind"] == "malformed" for p in binary_values)
    assert json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["records"] == \
        len(stream.records)
