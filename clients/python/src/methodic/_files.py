"""A checkpoint directory's files, their hashes, and threads made up front for the work on them."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Bytes read at a time: fewer, larger reads cost less per byte, and hashlib lets go of the GIL on them.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    #: The component path: relative, POSIX separators.
    path: str
    absolute: str
    size: int
    mtime_ns: int

    @property
    def mtime_ms(self) -> float:
        return self.mtime_ns / 1e6


def list_files(directory: str) -> List[LocalFile]:
    """Every regular file under ``directory``, by path; symbolic links and special files are left out."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a directory")
    files = []
    for parent, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(parent, d))]
        for name in names:
            absolute = os.path.join(parent, name)
            info = os.lstat(absolute)
            if not _is_regular(info.st_mode):
                continue
            rel = os.path.relpath(absolute, directory).replace(os.sep, "/")
            files.append(LocalFile(rel, absolute, info.st_size, info.st_mtime_ns))
    return sorted(files, key=lambda f: f.path)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def assert_unchanged(file: LocalFile) -> None:
    """Raises when a file is no longer what was hashed: its bytes would not match the manifest."""
    try:
        now = os.stat(file.absolute)
    except OSError:
        now = None
    if now is None or now.st_size != file.size or now.st_mtime_ns != file.mtime_ns:
        raise FileChangedError(
            f"{file.path} changed while it was being uploaded; its bytes would no longer match its sha256. "
            "Write checkpoints to a fresh directory and upload it once complete."
        )


class FileChangedError(RuntimeError):
    pass


def read_chunks(path: str) -> "Iterator[memoryview]":
    """The file's bytes in chunks of up to CHUNK, read into one buffer (each chunk is valid until the next)."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                return
            yield view[:n]


def hash_file(path: str, size: int, part_size: int) -> Tuple[str, Optional[List[str]]]:
    """A file's SHA-256 in one read, and for a file larger than ``part_size`` the SHA-256 of each
    part too (what storage checks each part of a multipart upload against)."""
    whole = hashlib.sha256()
    parts: List[str] = []
    in_parts = size > part_size
    part = hashlib.sha256()
    in_part = 0
    for chunk in read_chunks(path):
        whole.update(chunk)
        offset = 0
        while in_parts and offset < len(chunk):
            take = min(part_size - in_part, len(chunk) - offset)
            part.update(chunk[offset : offset + take])
            offset += take
            in_part += take
            if in_part == part_size:
                parts.append(part.hexdigest())
                part = hashlib.sha256()
                in_part = 0
    if in_parts and in_part:
        parts.append(part.hexdigest())
    return whole.hexdigest(), (parts if in_parts else None)


class Workers:
    """Threads started at once by the caller, then fed work: a background upload never starts a
    thread itself (Python refuses new threads once the interpreter is shutting down, and a trainer's
    main thread may well have returned while its last checkpoint goes up)."""

    def __init__(self, count: int, name: str) -> None:
        self._tasks: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=False) for i in range(max(1, count))
        ]
        for thread in self._threads:
            thread.start()

    @property
    def count(self) -> int:
        return len(self._threads)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            task()

    def map(self, work: Callable[[T], R], items: Sequence[T], limit: Optional[int] = None) -> List[R]:
        """``work`` on every item, at most ``limit`` at once; the first failure is raised once the
        items begun have settled, and no new one begins after it."""
        results: List[Optional[R]] = [None] * len(items)
        failure: List[BaseException] = []
        lock = threading.Lock()
        next_index = [0]
        done = threading.Event()
        running = [0]

        def take() -> Optional[int]:
            with lock:
                if failure or next_index[0] >= len(items):
                    return None
                index = next_index[0]
                next_index[0] += 1
                return index

        def worker() -> None:
            try:
                while True:
                    index = take()
                    if index is None:
                        return
                    try:
                        results[index] = work(items[index])
                    except BaseException as err:  # noqa: BLE001 - handed to the caller
                        with lock:
                            failure.append(err)
            finally:
                with lock:
                    running[0] -= 1
                    if running[0] == 0:
                        done.set()

        lanes = min(limit or self.count, self.count, len(items))
        if lanes == 0:
            return []
        running[0] = lanes
        for _ in range(lanes):
            self._tasks.put(worker)
        done.wait()
        if failure:
            raise failure[0]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
