"""The client's dicts are the API's objects: checked against the OpenAPI document the server serves
(generated from the zod contract), so that a drift between the two fails here."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Dict

from conftest import make_files
from harness import Server

from methodic import Chronicle


def _schemas(server: Server) -> Dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=30) as answer:
        return json.load(answer)["components"]["schemas"]


def _check(schemas: Dict[str, Any], name: str, value: Dict[str, Any]) -> None:
    schema = schemas[name]
    missing = set(schema.get("required", [])) - set(value)
    assert not missing, f"{name} lacks {missing}"
    unknown = set(value) - set(schema.get("properties", {}))
    assert not unknown or schema.get("additionalProperties", True) is not False, f"{name} has {unknown}"


def test_answers_match_the_served_contract(embedded_server: Server, embedded_exp: str, tmp_path: Path) -> None:
    schemas = _schemas(embedded_server)
    chronicle = Chronicle(embedded_server.url, embedded_server.admin_token)
    run = chronicle.run(embedded_exp, "v", 0)
    run_record = run.start()
    _check(schemas, "Run", run_record)
    _check(schemas, "Asset", run.upload_environment({"a": 1}))
    make_files(tmp_path / "c", {"x.bin": 100})
    asset = run.upload_directory_async(tmp_path / "c", asset_type="checkpoint").result()
    _check(schemas, "Asset", asset)
    for component in asset["components"]:
        assert set(component) >= {"path", "size", "sha256"}
    chronicle.variation(embedded_exp, "v").link_input(asset["id"])
    _check(schemas, "InputAsset", chronicle.variation(embedded_exp, "v").list_inputs()[0])
    _check(schemas, "Run", run.succeed())
