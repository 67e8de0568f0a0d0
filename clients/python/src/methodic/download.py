"""Verified streaming downloads (``run.download_asset``), as the TypeScript SDK's ``download.ts``:
every component streamed to ``<path>.partial`` in constant memory, hashed as it is written, checked
against its size and sha256, then renamed into place. A file already there with the right bytes is
kept; a ``.partial`` left by an interrupted download is resumed with a Range request."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional

from ._files import CHUNK, read_chunks
from ._retry import ATTEMPTS, RetryNow, with_retries
from ._storage import STORAGE_TIMEOUT, file_size
from ._transport import Transport, error_from_answer, quote
from .errors import ChronicleError, UnavailableError, ValidationError
from .types import DownloadedFile

DownloadProgress = Callable[[str, int, int], None]

_RANGE = re.compile(r"^bytes (\d+)-\d+/(?:\d+|\*)$")


def _targets(root: str, plan: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The plan's components, each with the file it goes to; a path that could land outside ``root``
    (absolute, ``..``, a backslash, a symbolic link out of it) is refused before anything is written."""
    real_root = os.path.realpath(root)
    seen = set()
    targets = []
    for c in plan["components"]:
        path = c["path"]
        segments = path.split("/") if isinstance(path, str) else [""]
        file = os.path.join(root, *segments) if segments else root
        bad = (
            not isinstance(path, str)
            or "\\" in path
            or "\0" in path
            or path.startswith("/")
            or re.match(r"^[A-Za-z]:", path) is not None
            or any(s in ("", ".", "..") for s in segments)
        )
        if not bad:
            inside = os.path.relpath(os.path.realpath(file), real_root)
            bad = inside == os.curdir or inside == os.pardir or inside.startswith(os.pardir + os.sep) or os.path.isabs(inside)
        if bad:
            raise ValidationError(
                400, "invalid_request", f"The asset's component path {path!r} is not a relative path inside {root}: refusing to write it."
            )
        if file in seen:
            raise ValidationError(400, "invalid_request", f"The asset names {path!r} twice.")
        seen.add(file)
        targets.append({"path": path, "size": c["size"], "sha256": c["sha256"], "url": c["url"], "file": file})
    return targets


class _Download:
    def __init__(
        self,
        transport: Transport,
        asset_id: str,
        target_dir: "os.PathLike[str] | str",
        concurrency: int,
        on_progress: Optional[DownloadProgress],
        timeout: float,
    ) -> None:
        self.transport = transport
        self.asset_id = asset_id
        self.root = os.path.abspath(os.fspath(target_dir))
        self.concurrency = max(1, concurrency)
        self.on_progress = on_progress
        self.timeout = timeout
        self.lock = threading.Lock()
        self.fresh: Optional[Dict[str, str]] = None
        self.done: Dict[str, int] = {}
        self.bytes = 0
        self.total = 0

    def ask(self) -> List[Dict[str, Any]]:
        return _targets(self.root, self.transport.call("GET", f"/v1/assets/{quote(self.asset_id)}/download"))

    def refresh(self, path: str) -> str:
        """URLs expire: a 403 asks the API for fresh ones, once for the whole download."""
        with self.lock:
            if self.fresh is None:
                self.fresh = {t["path"]: t["url"] for t in self.ask()}
            fresh = self.fresh
        if path not in fresh:
            raise ChronicleError(0, "internal", f"The asset's fresh download URLs no longer include {path}.")
        return fresh[path]

    def progress(self, path: str, now: int) -> None:
        with self.lock:
            self.bytes += now - self.done.get(path, 0)
            self.done[path] = now
            current = self.bytes
        if self.on_progress is not None:
            try:
                self.on_progress(path, current, self.total)
            except Exception:  # noqa: BLE001 - a progress bar's bug is not the download's failure
                pass

    def run(self) -> List[DownloadedFile]:
        targets = self.ask()
        self.total = sum(t["size"] for t in targets)
        os.makedirs(self.root, exist_ok=True)
        if targets:
            with ThreadPoolExecutor(min(self.concurrency, len(targets)), thread_name_prefix="methodic-download") as pool:
                futures = [pool.submit(self.component, t) for t in targets]
                errors = [f.exception() for f in futures]
            first = next((e for e in errors if e is not None), None)
            if first is not None:
                raise first
        return [
            {"path": t["path"], "size": t["size"], "sha256": t["sha256"], "file": t["file"]} for t in targets
        ]

    def component(self, target: Dict[str, Any]) -> None:
        """One component to its file: kept if already right, else resumed or fetched, verified, renamed."""
        path, size, file = target["path"], target["size"], target["file"]
        partial = file + ".partial"
        if file_size(file) == size and _hash_of(file).hexdigest() == target["sha256"]:
            _remove(partial)
            self.progress(path, size)
            return
        os.makedirs(os.path.dirname(file), exist_ok=True)
        state = {"url": target["url"], "refreshed": False}

        def attempt(_n: int) -> None:
            kept = file_size(partial)
            if kept is not None and kept > size:
                _remove(partial)
                kept = None
            offset = kept or 0
            digest = _hash_of(partial) if offset > 0 else hashlib.sha256()
            if offset > 0:
                self.progress(path, offset)
            if kept is not None and offset == size:
                # Every byte was there already (a crash before the rename): verify it.
                return _verify_and_rename(target, partial, digest)
            self.fetch(target, state, partial, offset, digest)

        with_retries(attempt, attempts=ATTEMPTS)

    def fetch(self, target: Dict[str, Any], state: Dict[str, Any], partial: str, offset: int, digest: Any) -> None:
        path, size = target["path"], target["size"]
        connections = self.transport.connections
        conn, request_target, _ = connections.get(state["url"], self.timeout)
        headers = {"range": f"bytes={offset}-"} if offset > 0 else {}
        try:
            conn.request("GET", request_target, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            connections.discard(conn)
            raise self.network_error(path, err) from None
        keep = False
        try:
            if resp.status == 403 and not state["refreshed"]:
                state["refreshed"] = True
                state["url"] = self.refresh(path)
                raise RetryNow(ChronicleError(403, "forbidden", f"Storage refused the URL of {path}."))
            resumed = resp.status == 206
            if resumed:
                match = _RANGE.match(resp.getheader("content-range") or "")
                if not match or int(match.group(1)) != offset:
                    # Not the range asked for: start over rather than splice in the wrong bytes.
                    _remove(partial)
                    raise RetryNow(ChronicleError(206, "internal", f"Storage answered another range of {path}."))
            elif resp.status == 416 and offset > 0:
                _remove(partial)
                raise RetryNow(ChronicleError(416, "internal", f"Storage refused every range of {path}."))
            elif resp.status != 200:
                body = resp.read(4096)
                raise error_from_answer(resp.status, body, resp.getheader("x-request-id"), f"Storage refused {path}")
            # 200 is the whole file: whatever was kept is dropped.
            received = digest if resumed else hashlib.sha256()
            start = offset if resumed else 0
            try:
                self.receive(resp, partial, start, received, target)
            except ChronicleError as err:
                if err.code == "internal":
                    _remove(partial)
                raise
            keep = not resp.will_close
            resp.close()
        finally:
            if keep:
                connections.release(conn)
            else:
                connections.discard(conn)
        _verify_and_rename(target, partial, received)

    def receive(self, resp: http.client.HTTPResponse, partial: str, start: int, digest: Any, target: Dict[str, Any]) -> None:
        """The body onto the partial file from ``start``, hashed as it goes, fsynced at the end. A body
        that breaks off is an UnavailableError, retried from what was written; more bytes than the
        component has is a corrupt download."""
        written = start
        with open(partial, "r+b" if start > 0 else "wb") as out:
            out.seek(start)
            out.truncate()
            try:
                while True:
                    chunk = resp.read1(CHUNK) if hasattr(resp, "read1") else resp.read(CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > target["size"]:
                        raise _corrupt(target, f"storage sent more than its {target['size']} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                    self.progress(target["path"], written)
            except (OSError, http.client.HTTPException) as err:
                out.flush()
                os.fsync(out.fileno())
                raise self.network_error(target["path"], err) from None
            out.flush()
            os.fsync(out.fileno())

    def network_error(self, path: str, err: BaseException) -> UnavailableError:
        why = f"storage did not answer within {self.timeout:g} s" if isinstance(err, socket.timeout) else str(err)
        return UnavailableError(0, "network_error", f"Downloading {path} failed: {why or type(err).__name__}")


def _verify_and_rename(target: Dict[str, Any], partial: str, digest: Any) -> None:
    """Size and sha256 as the asset says, then into place; anything else is removed, never renamed."""
    size = file_size(partial)
    sha256 = digest.hexdigest()
    if size != target["size"] or sha256 != target["sha256"]:
        _remove(partial)
        why = (
            f"{size or 0} bytes were received, not {target['size']}"
            if size != target["size"]
            else f"its sha256 is {sha256}, not {target['sha256']}"
        )
        raise _corrupt(target, why)
    os.replace(partial, target["file"])


def _corrupt(target: Dict[str, Any], why: str) -> ChronicleError:
    return ChronicleError(0, "internal", f"The download of {target['path']} is corrupt ({why}); it was not kept.")


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _hash_of(path: str) -> Any:
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    return digest


def download_asset(
    transport: Transport,
    asset_id: str,
    target_dir: "os.PathLike[str] | str",
    concurrency: int = 4,
    on_progress: Optional[DownloadProgress] = None,
    timeout: float = STORAGE_TIMEOUT,
) -> List[DownloadedFile]:
    return _Download(transport, asset_id, target_dir, concurrency, on_progress, timeout).run()

