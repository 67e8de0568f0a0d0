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


def sha256_of_range(path: str, offset: int, size: int) -> str:
    """The SHA-256 of ``size`` bytes of the file from ``offset``."""
    digest = hashlib.sha256()
    buffer = bytearray(min(CHUNK, max(size, 1)))
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        left = size
        while left > 0:
            n = f.readinto(view[: min(len(buffer), left)])
            if not n:
                raise OSError(f"{path} ended {left} bytes early")
            digest.update(view[:n])
            left -= n
    return digest.hexdigest()


def hash_files(
    files: Sequence["LocalFile"], part_size: int, run: Callable[[Callable[[int], None], List[int]], None]
) -> List[Tuple[str, Optional[List[str]]]]:
    """Every file's SHA-256, and for a file larger than ``part_size`` each part's too (what storage
    checks each part of a multipart upload against). The whole-file digest of a large file is one
    sequential pass that nothing can split, so its parts are hashed as tasks of their own beside it
    rather than in the same pass: the longest chain of work is then one read of the largest file, not
    two hashes of it. ``run(work, tasks)`` runs ``work`` on every task index, several at once, the
    first ones first."""
    wholes: List[Optional[str]] = [None] * len(files)
    parts: List[Optional[List[Optional[str]]]] = [
        [None] * -(-f.size // part_size) if f.size > part_size else None for f in files
    ]
    tasks: List[Tuple[int, int]] = []  # (file index, part index or -1 for the whole file)
    # The whole-file passes first, largest first: they are the long chains.
    for i in sorted(range(len(files)), key=lambda i: -files[i].size):
        tasks.append((i, -1))
    for i, file_parts in enumerate(parts):
        for k in range(len(file_parts or [])):
            tasks.append((i, k))

    def work(index: int) -> None:
        i, k = tasks[index]
        file = files[i]
        if k < 0:
            wholes[i] = sha256_of_range(file.absolute, 0, file.size)
        else:
            offset = k * part_size
            parts[i][k] = sha256_of_range(file.absolute, offset, min(part_size, file.size - offset))  # type: ignore[index]

    run(work, list(range(len(tasks))))
    return [(wholes[i], parts[i]) for i in range(len(files))]  # type: ignore[misc]


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
