"""The entry point: ``Chronicle()``, a connection to one server, and handles on its runs and variations."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Union

from ._credentials import resolve_credentials
from ._retry import ATTEMPTS
from ._storage import STORAGE_TIMEOUT
from ._transport import DEFAULT_TIMEOUT, Transport, quote
from .download import DownloadProgress, download_asset
from .run import Run, all_pages
from .types import Asset, DownloadedFile, Heartbeat, InputAsset, RunRecord
from .upload import DEFAULT_CONCURRENCY, CreationQueue

PathLike = Union[str, "os.PathLike[str]"]


class Chronicle:
    """A Chronicle server. With no arguments it finds the server and token as every methodic client
    does: arguments, then ``METHODIC_URL`` / ``METHODIC_TOKEN``, then the credentials file
    (``$XDG_CONFIG_HOME/methodic/credentials.json``); the URL defaults to ``http://127.0.0.1:8080``.

    ``timeout`` bounds each API request (seconds; retried if safe), ``storage_timeout`` how long
    storage may stay silent during a piece's PUT or a download; ``heartbeat_interval`` and the
    other run options are the defaults of every ``run()`` handle."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        storage_timeout: float = STORAGE_TIMEOUT,
        attempts: int = ATTEMPTS,
        heartbeat_interval: float = 30.0,
        on_heartbeat: Optional[Callable[[Heartbeat], None]] = None,
        on_heartbeat_error: Optional[Callable[[BaseException], None]] = None,
        part_size: Optional[int] = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        url, resolved_token = resolve_credentials(base_url, token)
        self.transport = Transport(url, resolved_token, timeout=timeout, attempts=attempts)
        self.storage_timeout = storage_timeout
        self._run_options: Dict[str, Any] = {
            "heartbeat_interval": heartbeat_interval,
            "on_heartbeat": on_heartbeat,
            "on_heartbeat_error": on_heartbeat_error,
            "part_size": part_size,
            "concurrency": concurrency,
        }
        # Shared by every handle, so that assets are created in call order.
        self._creation_queue = CreationQueue()

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"Chronicle({self.base_url!r})"

    def run(self, experiment_id: str, variation: str, run: int, **options: Any) -> Run:
        """A handle on run ``run`` of the variation; ``start()`` creates it (and the variation)."""
        return Run(self, experiment_id, variation, run, **{**self._run_options, **options})

    def variation(self, experiment_id: str, variation: str) -> "Variation":
        return Variation(self, experiment_id, variation)

    # -- experiments --------------------------------------------------------------------------------
    def create_experiment(self, id: str, **fields: Any) -> Dict[str, Any]:
        """Creates an experiment (``name``, ``description``, ``wandb_entity``, ``wandb_project``,
        ``config``, ``retention``); a ConflictError ``already_exists`` if it does."""
        return self.transport.call("POST", "/v1/experiments", body={"id": id, **fields}, retry=False)

    def get_experiment(self, id: str) -> Dict[str, Any]:
        return self.transport.call("GET", f"/v1/experiments/{quote(id)}")

    def update_experiment(self, id: str, **changes: Any) -> Dict[str, Any]:
        return self.transport.call("PATCH", f"/v1/experiments/{quote(id)}", body=changes)

    def list_experiments(self) -> List[Dict[str, Any]]:
        return all_pages(self.transport, "/v1/experiments")

    def list_variations(self, experiment_id: str) -> List[Dict[str, Any]]:
        return all_pages(self.transport, f"/v1/experiments/{quote(experiment_id)}/variations")

    def list_runs(
        self, experiment_id: str, variation: Optional[str] = None, state: Optional[str] = None
    ) -> List[RunRecord]:
        return all_pages(
            self.transport, f"/v1/experiments/{quote(experiment_id)}/runs", {"variation": variation, "state": state}
        )

    def list_outputs(
        self,
        experiment_id: str,
        variation: Optional[str] = None,
        run: Optional[int] = None,
        asset_type: Optional[str] = None,
        state: Optional[str] = None,
    ) -> List[Asset]:
        """Outputs of an experiment, newest first: of every variation, or of one (and of one of its runs)."""
        if run is not None and variation is None:
            raise TypeError("list_outputs: `run` needs a `variation`")
        query = {"asset_type": asset_type, "state": state}
        if variation is None:
            return all_pages(self.transport, f"/v1/experiments/{quote(experiment_id)}/outputs", query)
        return all_pages(
            self.transport,
            f"/v1/experiments/{quote(experiment_id)}/variations/{quote(variation)}/outputs",
            {**query, "run": run},
        )

    # -- assets -------------------------------------------------------------------------------------
    def get_asset(self, asset_id: str) -> Asset:
        return self.transport.call("GET", f"/v1/assets/{quote(asset_id)}")

    def get_asset_content(self, asset_id: str) -> Any:
        """The JSON an inline asset (an environment, a config) was stored with."""
        return self.transport.call("GET", f"/v1/assets/{quote(asset_id)}/content")

    def download_asset(
        self,
        asset_id: str,
        target_dir: PathLike,
        concurrency: int = 4,
        on_progress: Optional[DownloadProgress] = None,
    ) -> List[DownloadedFile]:
        """Streams every file of a ready asset into ``target_dir``, each verified by its sha256."""
        return download_asset(self.transport, asset_id, target_dir, concurrency, on_progress, self.storage_timeout)

    # -- tokens and service -------------------------------------------------------------------------
    def create_token(self, name: str, scope: str) -> Dict[str, Any]:
        """A new token (an admin token's right); its secret is in this answer only."""
        return self.transport.call("POST", "/v1/tokens", body={"name": name, "scope": scope}, retry=False)

    def ready(self) -> Dict[str, Any]:
        """Whether the server, its database and its storage answer (``/readyz``); raises when not."""
        return self.transport.call("GET", "/readyz")


class Variation:
    """A handle on a variation of an experiment: its outputs and the inputs linked to it."""

    def __init__(self, chronicle: Chronicle, experiment_id: str, variation: str) -> None:
        self._transport = chronicle.transport
        self.experiment_id = experiment_id
        self.variation = variation
        self._base = f"/v1/experiments/{quote(experiment_id)}/variations/{quote(variation)}"

    def __repr__(self) -> str:
        return f"Variation({self.experiment_id!r}, {self.variation!r})"

    def get(self) -> Dict[str, Any]:
        return self._transport.call("GET", self._base)

    def put(self, **fields: Any) -> Dict[str, Any]:
        """Creates the variation, or sets the given fields (``description``, ``config``, ...)."""
        return self._transport.call("PUT", self._base, body=fields)

    def list_outputs(
        self, asset_type: Optional[str] = None, state: Optional[str] = None, run: Optional[int] = None
    ) -> List[Asset]:
        """Outputs of every run of the variation (or of ``run``), newest first."""
        return all_pages(self._transport, self._base + "/outputs", {"asset_type": asset_type, "state": state, "run": run})

    def list_runs(self, state: Optional[str] = None) -> List[RunRecord]:
        return all_pages(self._transport, self._base + "/runs", {"state": state})

    def latest_output(self, asset_type: str) -> Optional[Asset]:
        """The newest ready asset of the type across the variation's runs; None when there is none."""
        return self._transport.call("GET", self._base + "/outputs/latest", query={"asset_type": asset_type})["asset"]

    def list_inputs(self) -> List[InputAsset]:
        """Assets linked as inputs of the variation, each with ``linked_at``."""
        return all_pages(self._transport, self._base + "/inputs")

    def link_input(self, asset_id: str) -> InputAsset:
        """Links a ready asset (of any variation of any experiment) as an input; idempotent."""
        return self._transport.call("PUT", f"{self._base}/inputs/{quote(asset_id)}")

    def unlink_input(self, asset_id: str) -> None:
        self._transport.call("DELETE", f"{self._base}/inputs/{quote(asset_id)}")
