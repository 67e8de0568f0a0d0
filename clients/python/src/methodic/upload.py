"""Background directory uploads (``run.upload_directory_async``), as the TypeScript SDK's ``upload.ts``:
hash, create the asset in call order, PUT the pieces straight to storage several at once, report
each one, finalize. Upload plans may come in pages (``truncated``): each page is sent and reported
before the next is asked for."""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._files import LocalFile, Workers, assert_unchanged, hash_files, list_files
from ._retry import RetryNow, with_retries
from ._storage import STORAGE_TIMEOUT, put_range
from ._transport import Transport, quote
from .errors import ChronicleError, ConflictError, NotFoundError, error_for
from .tracker import TrackedKey, TrackedUpload, UploadTracker
from .types import Asset

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 64 * MiB
MAX_PARTS = 10_000
DEFAULT_CONCURRENCY = 8

ProgressCallback = Callable[[int, int], None]


@dataclass
class _Piece:
    file: LocalFile
    part_number: Optional[int]
    offset: int
    size: int
    url: str
    headers: Mapping[str, str]

    @property
    def key(self) -> Tuple[str, int]:
        return (self.file.path, self.part_number or 0)


class CreationQueue:
    """Keeps asset creation in call order, so that the newest checkpoint is the last one started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tail = threading.Event()
        self._tail.set()

    def next(self) -> Tuple[threading.Event, threading.Event]:
        """The turn to wait for (the previous upload created its asset, or failed first), and the
        event that releases the next one."""
        with self._lock:
            turn, release = self._tail, threading.Event()
            self._tail = release
        return turn, release


def part_size_for(files: List[LocalFile], wanted: int) -> int:
    """The part size asked for, grown to whole MiB so that no file needs over 10,000 parts."""
    largest = max((f.size for f in files), default=0)
    return max(wanted, -(-largest // (MAX_PARTS * MiB)) * MiB)


class DirectoryUpload:
    """A directory going up as one asset, in the background. ``result()`` waits for the ready asset
    (and raises what failed); ``asset_id``, ``bytes_sent`` and ``total_bytes`` tell how far it is.
    A failure is kept for ``result()`` and ``run.succeed()``, never printed from the thread."""

    def __init__(
        self,
        transport: Transport,
        key: TrackedKey,
        *,
        asset_type: str,
        name: Optional[str],
        asset_config: Optional[Dict[str, Any]],
        tracker: Optional[UploadTracker],
        concurrency: int,
        part_size: int,
        turn: threading.Event,
        release: threading.Event,
        on_progress: Optional[ProgressCallback] = None,
        storage_timeout: float = STORAGE_TIMEOUT,
    ) -> None:
        self._transport = transport
        self.key = key
        self._asset: Dict[str, Any] = {"asset_type": asset_type}
        if name is not None:
            self._asset["name"] = name
        if asset_config is not None:
            self._asset["asset_config"] = asset_config
        self._tracker = tracker
        self._concurrency = max(1, concurrency)
        self._wanted_part_size = part_size
        self._on_progress = on_progress
        self._storage_timeout = storage_timeout
        self._future: "Future[Asset]" = Future()
        self._lock = threading.Lock()
        self.asset_id: Optional[str] = None
        self.bytes_sent = 0
        self.total_bytes = 0
        # Every thread this upload uses is started here, by the caller (see Workers).
        self._workers = Workers(self._concurrency, "methodic-upload")
        self._thread = threading.Thread(target=self._main, args=(turn, release), name="methodic-upload", daemon=False)
        self._thread.start()

    # -- the handle ---------------------------------------------------------------------------------
    def result(self, timeout: Optional[float] = None) -> Asset:
        """The ready asset, once it is; raises the upload's failure."""
        return self._future.result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        return self._future.exception(timeout)

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Whether the upload ended (ready or failed) within ``timeout``."""
        self._thread.join(timeout)
        return self._future.done()

    def add_done_callback(self, fn: Callable[["Future[Asset]"], None]) -> None:
        self._future.add_done_callback(fn)

    # -- the work -----------------------------------------------------------------------------------
    def _main(self, turn: threading.Event, release: threading.Event) -> None:
        try:
            self._future.set_result(self._upload(turn, release))
        except BaseException as err:  # noqa: BLE001 - kept for result(), never printed here
            self._future.set_exception(err)
        finally:
            release.set()
            self._workers.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._transport.call(method, path, **kwargs)

    def _upload(self, turn: threading.Event, release: threading.Event) -> Asset:
        files = list_files(self.key.directory)
        by_path = {f.path: f for f in files}
        part_size = part_size_for(files, self._wanted_part_size)
        tracked = self._tracker.find(self.key) if self._tracker else None
        manifest = self._manifest(files, part_size, tracked)
        same = tracked is not None and _same_files(tracked, manifest)

        turn.wait()
        asset: Optional[Asset] = None
        plan: Optional[Dict[str, Any]] = None
        if tracked is not None and same:
            try:
                asset = self._call("GET", f"/v1/assets/{quote(tracked.asset_id)}")
            except NotFoundError:
                asset = None  # the server forgot it (a new data dir): upload afresh
            if asset is not None and asset["state"] == "ready":
                release.set()
                self._mark_done(asset)
                return asset
            if asset is not None and asset["state"] == "pending":
                self._report_tracked(asset["id"], tracked.pieces)
                plan = self._plan(asset["id"])
            else:
                asset = None  # aborted (swept after a long pause) or gone: a fresh asset
        if asset is None or plan is None:
            asset, plan = self._create(manifest, part_size, files)
        release.set()

        self.asset_id = asset["id"]
        with self._lock:
            self.total_bytes = asset["size"]
            self.bytes_sent = asset["size"] - sum(p.size for p in _pieces_of(plan, by_path))
        self._progress()
        ready = self._send_and_finalize(asset["id"], plan, by_path)
        self._mark_done(ready)
        return ready

    def _manifest(self, files: List[LocalFile], part_size: int, tracked: Optional[TrackedUpload]) -> List[Dict[str, Any]]:
        """Every file's size and SHA-256 (and its parts' for a file in parts); a file unchanged since
        the tracker saw it keeps its hashes, so a resume reads nothing again."""
        known = {f["path"]: f for f in (tracked.files if tracked else [])}

        def kept(file: LocalFile) -> Optional[Tuple[str, Optional[List[str]]]]:
            previous = known.get(file.path)
            if not previous or previous.get("size") != file.size or previous.get("mtimeMs") != file.mtime_ms:
                return None
            if file.size > part_size and (previous.get("partSize") != part_size or not previous.get("partSha256")):
                return None
            return previous["sha256"], previous.get("partSha256")

        hashes: List[Optional[Tuple[str, Optional[List[str]]]]] = [kept(f) for f in files]
        todo = [i for i, h in enumerate(hashes) if h is None]
        lanes = max(1, min(4, os.cpu_count() or 1))

        def run(work: Callable[[int], None], tasks: List[int]) -> None:
            self._workers.map(work, tasks, lanes)

        fresh = hash_files([files[i] for i in todo], part_size, run)
        for i, h in zip(todo, fresh):
            hashes[i] = h
        manifest = []
        for file, hashed in zip(files, hashes):
            assert hashed is not None
            entry: Dict[str, Any] = {"path": file.path, "size": file.size, "sha256": hashed[0]}
            if hashed[1]:
                entry["part_sha256"] = hashed[1]
            manifest.append(entry)
        return manifest

    def _create(
        self, manifest: List[Dict[str, Any]], part_size: int, files: List[LocalFile]
    ) -> Tuple[Asset, Dict[str, Any]]:
        key = str(uuid.uuid4())
        k = self.key
        answer = self._call(
            "POST",
            f"/v1/experiments/{quote(k.experiment_id)}/variations/{quote(k.variation)}/runs/{k.run}/assets",
            body={**self._asset, "part_size": part_size, "components": manifest},
            headers={"idempotency-key": key},
        )
        asset = answer["asset"]
        plan = answer.get("upload") or {"components": []}
        if self._tracker is not None:
            records = []
            for entry, file in zip(manifest, files):
                record = {"path": file.path, "size": file.size, "mtimeMs": file.mtime_ms, "sha256": entry["sha256"]}
                if "part_sha256" in entry:
                    record.update(partSize=part_size, partSha256=entry["part_sha256"])
                records.append(record)
            self._tracker.save(TrackedUpload(k, asset["id"], dict(self._asset), key, records))
        return asset, plan

    def _plan(self, asset_id: str) -> Dict[str, Any]:
        return self._call("POST", f"/v1/assets/{quote(asset_id)}/uploads")["upload"]

    def _report_tracked(self, asset_id: str, pieces: List[Dict[str, Any]]) -> None:
        """Pieces sent before a crash but perhaps never reported, told to the server so that they are
        not sent again. A report it cannot accept (a stale ETag) only means that piece goes again."""
        if not pieces:
            return
        parts = [{"path": p["path"], "part_number": p["partNumber"], "etag": p["etag"]} for p in pieces]
        for start in range(0, len(parts), MAX_PARTS):
            try:
                self._call("POST", f"/v1/assets/{quote(asset_id)}/parts", body={"parts": parts[start : start + MAX_PARTS]})
            except ChronicleError:
                pass

    def _send_and_finalize(self, asset_id: str, plan: Dict[str, Any], by_path: Dict[str, LocalFile]) -> Asset:
        for attempt in range(3):
            self._send_pages(asset_id, plan, by_path)
            try:
                return self._call("POST", f"/v1/assets/{quote(asset_id)}/finalize")["asset"]
            except ConflictError as err:
                # Storage lost a piece the server had recorded: a fresh plan names what to send again.
                if err.code != "asset_incomplete" or attempt == 2:
                    raise
                plan = self._plan(asset_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_pages(self, asset_id: str, plan: Dict[str, Any], by_path: Dict[str, LocalFile]) -> None:
        while True:
            pieces = _pieces_of(plan, by_path)
            self._send(asset_id, pieces, by_path)
            if not plan.get("truncated"):
                return
            plan = self._plan(asset_id)
            if plan.get("truncated") and not _pieces_of(plan, by_path):
                raise ChronicleError(0, "internal", f"The server's next upload plan for asset {asset_id} is empty yet truncated.")

    def _send(self, asset_id: str, pieces: List[_Piece], by_path: Dict[str, LocalFile]) -> None:
        urls = {p.key: p for p in pieces}
        generation = [0]
        refresh_lock = threading.Lock()

        def refresh(seen: int) -> None:
            # URLs expire: one fresh plan (of what is still missing) for every piece that saw them expire.
            with refresh_lock:
                if generation[0] != seen:
                    return
                for fresh in _pieces_of(self._plan(asset_id), by_path):
                    urls[fresh.key] = fresh
                generation[0] += 1

        def send_one(piece: _Piece) -> None:
            etag = self._put(piece, urls, generation, refresh)
            if self._tracker is not None:
                self._tracker.mark_piece(asset_id, piece.file.path, piece.part_number or 1, etag)
            part: Dict[str, Any] = {"path": piece.file.path, "etag": etag}
            if piece.part_number is not None:
                part["part_number"] = piece.part_number
            self._call("POST", f"/v1/assets/{quote(asset_id)}/parts", body={"parts": [part]})
            with self._lock:
                self.bytes_sent += piece.size
            self._progress()

        self._workers.map(send_one, pieces, self._concurrency)

    def _put(
        self,
        piece: _Piece,
        urls: Dict[Tuple[str, int], _Piece],
        generation: List[int],
        refresh: Callable[[int], None],
    ) -> str:
        """One piece from disk to its URL, retried; an expired URL (403) gets a fresh plan once."""
        refreshed = [False]
        what = piece.file.path + (f" part {piece.part_number}" if piece.part_number else "")

        def attempt(_n: int) -> str:
            seen = generation[0]
            target = urls.get(piece.key, piece)
            assert_unchanged(piece.file)
            answer = put_range(
                self._transport.connections,
                target.url,
                target.headers,
                piece.file.absolute,
                piece.offset,
                piece.size,
                self._storage_timeout,
                what,
            )
            if 200 <= answer.status < 300:
                assert_unchanged(piece.file)
                if not answer.etag:
                    raise ChronicleError(answer.status, "internal", f"Storage answered no ETag for {what}.")
                return answer.etag
            err = error_for(
                answer.status,
                "unavailable" if answer.status >= 500 else "invalid_request",
                f"Storage refused {what} (HTTP {answer.status}): {answer.text[:300]}",
            )
            if answer.status == 403 and not refreshed[0]:
                refreshed[0] = True
                refresh(seen)
                raise RetryNow(err)
            raise err

        return with_retries(attempt)

    def _mark_done(self, asset: Asset) -> None:
        if self._tracker is not None:
            self._tracker.mark_done(asset["id"])

    def _progress(self) -> None:
        if self._on_progress is not None:
            try:
                self._on_progress(self.bytes_sent, self.total_bytes)
            except Exception:  # noqa: BLE001 - a progress bar's bug is not the upload's failure
                pass


def _same_files(tracked: TrackedUpload, manifest: List[Dict[str, Any]]) -> bool:
    known = {f["path"]: f.get("sha256") for f in tracked.files}
    return len(tracked.files) == len(manifest) and all(known.get(m["path"]) == m["sha256"] for m in manifest)


def _pieces_of(plan: Mapping[str, Any], by_path: Mapping[str, LocalFile]) -> List[_Piece]:
    """Every PUT a plan asks for, each with the file it reads from."""
    pieces = []
    for component in plan.get("components", []):
        file = by_path.get(component["path"])
        if file is None:
            raise ChronicleError(0, "internal", f"The plan names {component['path']!r}, which is not a file of the directory.")
        if "parts" not in component:
            pieces.append(_Piece(file, None, 0, file.size, component["url"], component.get("headers") or {}))
            continue
        for part in component["parts"]:
            pieces.append(
                _Piece(file, part["part_number"], part["offset"], part["size"], part["url"], part.get("headers") or {})
            )
    return pieces
