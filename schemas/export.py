"""JSON Schema of every record, for downstream consumers (``schemas/json/``).

``pulse schemas`` writes the files; a test fails when they are stale, so the
published contract can never drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.alerts import ALERT_RECORDS
from schemas.base import Record
from schemas.campaigns import CAMPAIGN_RECORDS
from schemas.events import INPUT_EVENTS
from schemas.members import MEMBER_RECORDS
from schemas.outputs import OUTPUT_RECORDS
from schemas.retention import RETENTION_RECORDS

JSON_DIR = Path(__file__).parent / "json"
ALL_RECORDS: tuple[type[Record], ...] = (
    *INPUT_EVENTS, *OUTPUT_RECORDS, *CAMPAIGN_RECORDS, *MEMBER_RECORDS, *RETENTION_RECORDS,
    *ALERT_RECORDS)


def schema_documents() -> dict[str, str]:
    """File name -> JSON Schema text, for every record."""
    documents = {}
    for model in ALL_RECORDS:
        schema = model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"{model.record_name}.v{model.version}.json"
        documents[schema["$id"]] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return documents


def write_schemas(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_documents().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
