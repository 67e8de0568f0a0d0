"""The API's answers as the client hands them over: plain dicts (``asset["id"]``), typed for editors."""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

if sys.version_info >= (3, 11):  # pragma: no cover - the typing of older Pythons has no NotRequired
    from typing import NotRequired, TypedDict
else:  # pragma: no cover
    from typing import TypedDict

    NotRequired = Optional  # type: ignore[assignment]


class Component(TypedDict):
    path: str
    size: int
    sha256: str


class Asset(TypedDict):
    id: str
    asset_type: str
    name: Optional[str]
    state: str
    experiment_id: str
    variation: str
    run: int
    asset_config: Dict[str, Any]
    inline: bool
    size: int
    uploaded_size: int
    components: List[Component]
    created_at: str
    finalized_at: Optional[str]


class InputAsset(Asset):
    linked_at: str


class WandbPointer(TypedDict):
    run_id: str
    entity: str
    project: str
    dashboard_url: str


class RunRecord(TypedDict):
    experiment_id: str
    variation: str
    run: int
    state: str
    created_at: str
    started_at: Optional[str]
    finished_at: Optional[str]
    last_heartbeat_at: Optional[str]
    wandb: Optional[WandbPointer]
    summary: Optional[Dict[str, Any]]
    error: Optional[Dict[str, Any]]


class Heartbeat(TypedDict):
    state: str
    last_heartbeat_at: str
    requests: NotRequired[List[Dict[str, Any]]]


class DownloadedFile(TypedDict):
    path: str
    size: int
    sha256: str
    #: The absolute path written.
    file: str
