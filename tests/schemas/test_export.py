"""The published JSON Schemas are current and describe what the pipeline accepts."""

from __future__ import annotations

import json

import jsonschema

from schemas.export import JSON_DIR, schema_documents


def test_committed_json_schemas_are_up_to_date() -> None:
    documents = schema_documents()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in JSON_DIR.glob("*.json")}
    assert on_disk == documents, "run `make schemas` (pulse schemas) and commit schemas/json/"


def test_every_field_is_documented() -> None:
    for name, text in schema_documents().items():
        schema = json.loads(text)
        undocumented = [f for f, spec in schema["properties"].items() if "description" not in spec]
        assert not undocumented, f"{name}: {undocumented}"


def test_schema_accepts_a_valid_record_and_rejects_a_wrong_type() -> None:
    schema = json.loads(schema_documents()["chat_message.v1.json"])
    good = {"schema_version": 1, "message_id": "m", "community_id": "c", "member_id": "u",
            "ts": "2026-11-23T01:00:00Z", "platform": "qq", "sender_role": "staff",
            "msg_type": "text", "text": "", "reply_to": None, "mentions": []}
    jsonschema.validate(good, schema)
    bad = {**good, "mentions": "u2"}
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a string where a list is required must be rejected")
