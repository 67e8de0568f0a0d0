"""One run of a variation, ``chronicle.run(exp_id, variation, run_idx)``: its lifecycle, heartbeats,
environment and assets, background checkpoint uploads, and what earlier runs left to resume from."""

from __future__ import annotations

import os
import threading
import traceback
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from ._transport import Transport, quote
from .download import DownloadProgress, download_asset
from .errors import ChronicleError
from .tracker import TrackedKey, UploadTracker
from .types import Asset, DownloadedFile, Heartbeat, RunRecord
from .upload import DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, CreationQueue, DirectoryUpload, ProgressCallback

if TYPE_CHECKING:  # pragma: no cover
    from .chronicle import Chronicle

PathLike = Union[str, "os.PathLike[str]"]


def all_pages(transport: Transport, path: str, query: Optional[Dict[str, Any]] = None) -> List[Any]:
    """Every item of a list route, following its cursors."""
    items: List[Any] = []
    cursor: Optional[str] = None
    while True:
        page = transport.call("GET", path, query={**(query or {}), "cursor": cursor})
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


class Run:
    """A handle on ``(experiment, variation, run index)``. Cheap, and holding no state but its
    heartbeat thread and its uploads, so a process may make one for a run another process started."""

    def __init__(
        self,
        chronicle: "Chronicle",
        experiment_id: str,
        variation: str,
        run: int,
        *,
        heartbeat_interval: float = 30.0,
        on_heartbeat: Optional[Callable[[Heartbeat], None]] = None,
        on_heartbeat_error: Optional[Callable[[BaseException], None]] = None,
        part_size: Optional[int] = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._chronicle = chronicle
        self._transport: Transport = chronicle.transport
        self._creation_queue: CreationQueue = chronicle._creation_queue
        self.experiment_id = experiment_id
        self.variation = variation
        self.index = int(run)
        self.heartbeat_interval = heartbeat_interval
        self._on_heartbeat = on_heartbeat
        self._on_heartbeat_error = on_heartbeat_error
        self._part_size = part_size
        self._concurrency = concurrency
        self._base = f"/v1/experiments/{quote(experiment_id)}/variations/{quote(variation)}/runs/{self.index}"
        self._uploads: List[DirectoryUpload] = []
        self._lock = threading.Lock()
        self._beating: Optional[threading.Event] = None
        #: The answer of the latest heartbeat (``state``, ``last_heartbeat_at``, ``requests``), or None.
        self.last_heartbeat: Optional[Heartbeat] = None
        #: The latest heartbeat failure (after its retries), or None; the trainer goes on regardless.
        self.last_heartbeat_error: Optional[BaseException] = None

    def __repr__(self) -> str:
        return f"Run({self.experiment_id!r}, {self.variation!r}, {self.index})"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(
        self,
        wandb_run_id: Optional[str] = None,
        wandb_entity: Optional[str] = None,
        wandb_project: Optional[str] = None,
        wandb_dashboard_url: Optional[str] = None,
    ) -> RunRecord:
        """Starts the run (or picks up a running or lost one: start is idempotent), linking its W&B
        run when given (None means not given), then keeps it alive with heartbeats until succeed or fail."""
        given = {
            "wandb_run_id": wandb_run_id,
            "wandb_entity": wandb_entity,
            "wandb_project": wandb_project,
            "wandb_dashboard_url": wandb_dashboard_url,
        }
        body = {k: v for k, v in given.items() if v is not None}
        record = self._transport.call("POST", f"{self._base}/start", body=body)
        self._start_heartbeats()
        return record

    def heartbeat(self) -> Heartbeat:
        """One heartbeat now (the thread started by ``start`` sends them by itself)."""
        answer: Heartbeat = self._transport.call("POST", f"{self._base}/heartbeat")
        self.last_heartbeat = answer
        return answer

    def _start_heartbeats(self) -> None:
        """A daemon thread that never keeps a finished process alive: a heartbeat every interval,
        each sent once the one before it has answered (or failed after its retries), so that a slow
        server never sees two of one run at once."""
        self._stop_heartbeats()
        stop = threading.Event()
        with self._lock:
            self._beating = stop

        def beat() -> None:
            while not stop.wait(self.heartbeat_interval):
                try:
                    answer = self.heartbeat()
                    self.last_heartbeat_error = None
                    if self._on_heartbeat is not None:
                        self._on_heartbeat(answer)
                except BaseException as err:  # noqa: BLE001 - never a traceback from this thread
                    self.last_heartbeat_error = err
                    # A finished run needs no more; anything else is worth telling, never crashing for.
                    if isinstance(err, ChronicleError) and err.code == "run_finished":
                        stop.set()
                    if self._on_heartbeat_error is not None:
                        try:
                            self._on_heartbeat_error(err)
                        except BaseException:  # noqa: BLE001
                            pass

        threading.Thread(target=beat, name=f"methodic-heartbeat-{self.index}", daemon=True).start()

    def _stop_heartbeats(self) -> None:
        with self._lock:
            if self._beating is not None:
                self._beating.set()
            self._beating = None

    def succeed(self, summary: Optional[Dict[str, Any]] = None) -> RunRecord:
        """Waits for every pending upload of this handle, then ends the run as succeeded. A failed
        upload raises its error and leaves the run running (its heartbeats go on)."""
        self.wait_for_uploads()
        record = self._transport.call("POST", f"{self._base}/succeed", body={} if summary is None else {"summary": summary})
        self._stop_heartbeats()
        return record

    def fail(
        self,
        error: Union[BaseException, str, None] = None,
        details: Optional[Dict[str, Any]] = None,
        reason: Optional[str] = None,
    ) -> RunRecord:
        """Ends the run as failed, with an exception (its traceback goes into the details) or a message."""
        body: Dict[str, Any] = {}
        if isinstance(error, BaseException):
            body["error"] = f"{type(error).__name__}: {error}"
            stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            body["details"] = {"stack": stack, **(details or {})}
        else:
            if error is not None:
                body["error"] = error
            if details is not None:
                body["details"] = details
        if reason is not None:
            body["reason"] = reason
        record = self._transport.call("POST", f"{self._base}/fail", body=body)
        self._stop_heartbeats()
        return record

    def get(self) -> RunRecord:
        return self._transport.call("GET", self._base)

    # -- assets -------------------------------------------------------------------------------------
    def upload_environment(self, environment: Dict[str, Any]) -> Asset:
        """Stores any JSON-serializable mapping as this run's ``environment`` asset."""
        return self.upload_asset(asset_type="environment", content=environment)

    def upload_asset(
        self,
        asset_type: str,
        content: Any,
        asset_config: Optional[Dict[str, Any]] = None,
        name: Optional[str] = None,
    ) -> Asset:
        """An inline JSON asset, ready at once. Retried safely: the create carries an Idempotency-Key."""
        body: Dict[str, Any] = {"asset_type": asset_type, "content": content}
        if asset_config is not None:
            body["asset_config"] = asset_config
        if name is not None:
            body["name"] = name
        return self._transport.call("POST", f"{self._base}/assets", body=body, idempotency_key=True)["asset"]

    def upload_directory_async(
        self,
        directory: PathLike,
        asset_type: str,
        upload_tracker: Optional[UploadTracker] = None,
        name: Optional[str] = None,
        asset_config: Optional[Dict[str, Any]] = None,
        concurrency: Optional[int] = None,
        part_size: Optional[int] = None,
        on_progress: Optional[ProgressCallback] = None,
    ) -> DirectoryUpload:
        """Uploads a directory (a checkpoint) as one asset in the background and returns at once;
        ``.result()`` waits for the ready asset. Assets are created in call order. With an
        ``upload_tracker``, a crashed upload resumes where it stopped: the same asset, only the
        pieces the server lacks."""
        turn, release = self._creation_queue.next()
        key = TrackedKey(
            self._transport.base_url,
            os.path.abspath(os.fspath(directory)),
            self.experiment_id,
            self.variation,
            self.index,
        )
        try:
            upload = DirectoryUpload(
                self._transport,
                key,
                asset_type=asset_type,
                name=name,
                asset_config=asset_config,
                tracker=upload_tracker,
                concurrency=concurrency or self._concurrency,
                part_size=part_size or self._part_size or DEFAULT_PART_SIZE,
                turn=turn,
                release=release,
                on_progress=on_progress,
                storage_timeout=self._chronicle.storage_timeout,
            )
        except BaseException:
            release.set()
            raise
        with self._lock:
            self._uploads = [u for u in self._uploads if not (u.done() and u.exception() is None)]
            self._uploads.append(upload)
        return upload

    def wait_for_uploads(self, timeout: Optional[float] = None) -> None:
        """Waits for every upload of this handle; raises the first failure (a TimeoutError when
        ``timeout`` passes first)."""
        with self._lock:
            uploads = list(self._uploads)
        first: Optional[BaseException] = None
        for upload in uploads:
            if not upload.wait(timeout):
                raise TimeoutError(f"the upload of {upload.key.directory} did not finish within {timeout} s")
            err = upload.exception()
            if err is not None and first is None:
                first = err
        if first is not None:
            raise first
        with self._lock:
            self._uploads = [u for u in self._uploads if u not in uploads]

    @property
    def pending_uploads(self) -> List[DirectoryUpload]:
        with self._lock:
            return [u for u in self._uploads if not u.done()]

    # -- outputs ------------------------------------------------------------------------------------
    def list_outputs(
        self, asset_type: Optional[str] = None, state: Optional[str] = None, across_runs: bool = False
    ) -> List[Asset]:
        """This run's outputs, newest first; with ``across_runs``, those of every run of the variation."""
        query = {"asset_type": asset_type, "state": state}
        if across_runs:
            return all_pages(self._transport, self._variation_base + "/outputs", query)
        return all_pages(self._transport, f"{self._base}/outputs", query)

    def latest_output(self, asset_type: str) -> Optional[Asset]:
        """The newest ready asset of the type across every run of the variation; None when there is none."""
        return self._transport.call("GET", self._variation_base + "/outputs/latest", query={"asset_type": asset_type})[
            "asset"
        ]

    def download_asset(
        self,
        asset_id: str,
        target_dir: PathLike,
        concurrency: int = 4,
        on_progress: Optional[DownloadProgress] = None,
    ) -> List[DownloadedFile]:
        """Streams every file of a ready asset into ``target_dir``, each verified by its sha256."""
        return self._chronicle.download_asset(asset_id, target_dir, concurrency=concurrency, on_progress=on_progress)

    @property
    def _variation_base(self) -> str:
        return f"/v1/experiments/{quote(self.experiment_id)}/variations/{quote(self.variation)}"
