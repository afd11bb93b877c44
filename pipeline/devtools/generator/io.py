"""Streams on disk: ``events.jsonl`` (records in delivery order), ``truth.json`` and
``campaigns.toml`` (the campaign registry a worker reads with ``PULSE_CAMPAIGNS_FILE``).

One JSON object per line: ``topic``, ``key``, ``kind``, ``timestamp_ms`` and the
value as ``value`` (text, when it is valid UTF-8) or ``value_b64`` (anything
else, e.g. the GBK-encoded garbage), so bytes round-trip exactly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pipeline.compute.campaigns.registry import CampaignSpec, dump_registry
from pipeline.devtools.generator.stream import GeneratedStream, OutRecord
from pipeline.devtools.generator.truth import GroundTruth

EVENTS_FILE = "events.jsonl"
TRUTH_FILE = "truth.json"
REGISTRY_FILE = "campaigns.toml"


def registry_text(truth: GroundTruth) -> str:
    """The campaign registry of a generated stream: its campaigns with their names and
    peak days, default steps and targets."""
    return dump_registry([CampaignSpec(campaign_id=f.campaign_id, name=f.title,
                                       peak_day=f.peak_day) for f in truth.funnels])


def _bytes_field(name: str, raw: bytes | None) -> dict[str, str | None]:
    if raw is None:
        return {name: None}
    try:
        return {name: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_b64": base64.b64encode(raw).decode("ascii")}


def _read_bytes(line: dict, name: str) -> bytes | None:
    if f"{name}_b64" in line:
        return base64.b64decode(line[f"{name}_b64"])
    text = line.get(name)
    return None if text is None else text.encode("utf-8")


def write_stream(stream: GeneratedStream, directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    with (directory / EVENTS_FILE).open("w", encoding="utf-8") as out:
        for r in stream.records:
            line = {"topic": r.topic, **_bytes_field("key", r.key),
                    **_bytes_field("value", r.value), "kind": r.kind,
                    "timestamp_ms": r.timestamp_ms}
            out.write(encoder.encode(line))
            out.write("\n")
    (directory / TRUTH_FILE).write_text(stream.truth.to_json(), encoding="utf-8")
    (directory / REGISTRY_FILE).write_text(registry_text(stream.truth), encoding="utf-8")


def read_stream(directory: Path) -> GeneratedStream:
    directory = Path(directory)
    records = []
    with (directory / EVENTS_FILE).open(encoding="utf-8") as lines:
        for text in lines:
            line = json.loads(text)
            value = _read_bytes(line, "value")
            records.append(OutRecord(line["topic"], _read_bytes(line, "key"),
                                     value if value is not None else b"",
                                     line["timestamp_ms"], line["kind"]))
    truth = GroundTruth.from_json((directory / TRUTH_FILE).read_text(encoding="utf-8"))
    return GeneratedStream(records, truth)
