"""The upload tracker: a SQLite file that remembers uploads, so that a process that crashed mid-upload
(or a new one) resumes the same asset and sends only what the server lacks. Its tables are the
TypeScript SDK's (``upload-tracker.ts``), so the file means the same thing to either client."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from .chronicle import Chronicle
    from .upload import DirectoryUpload

_SCHEMA = """
create table if not exists uploads (
  asset_id text primary key,
  base_url text not null,
  directory text not null,
  experiment_id text not null,
  variation text not null,
  run integer not null,
  asset text not null,
  idempotency_key text not null,
  files text not null,
  done integer not null default 0,
  updated_at integer not null
);
create index if not exists uploads_key on uploads (base_url, directory, experiment_id, variation, run, updated_at);
create table if not exists pieces (
  asset_id text not null references uploads (asset_id) on delete cascade,
  path text not null,
  part_number integer not null,
  etag text not null,
  primary key (asset_id, path, part_number)
);
"""


@dataclass
class TrackedKey:
    base_url: str
    directory: str
    experiment_id: str
    variation: str
    run: int


@dataclass
class TrackedUpload:
    key: TrackedKey
    asset_id: str
    #: What the asset was created with (asset_type, name, asset_config), so it can be started again.
    asset: Dict[str, Any]
    idempotency_key: str
    #: Each file as it was hashed: path, size, mtimeMs, sha256, and for a file in parts partSize and partSha256.
    files: List[Dict[str, Any]]
    done: bool = False
    #: Pieces sent (and perhaps never reported): path, partNumber, etag.
    pieces: List[Dict[str, Any]] = field(default_factory=list)


class UploadTracker:
    """Remembers uploads on local disk. Safe to share between threads and between processes: SQLite
    in WAL mode, every write its own immediate transaction, waiting (``timeout`` seconds) for a
    writer of another process rather than failing."""

    def __init__(self, db_path: Union[str, "os.PathLike[str]"], timeout: float = 30.0) -> None:
        self.db_path = Path(db_path)
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn: Optional[sqlite3.Connection] = None
        self._pid = -1
        with self._lock:
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        # A connection does not survive a fork: a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                str(self.db_path), timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            # WAL keeps each write durable and cheap, and lets several trainers on one host share the file.
            for attempt in range(50):
                try:
                    conn.execute("pragma journal_mode = WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
            conn.execute("pragma foreign_keys = ON")
            conn.execute("begin immediate")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
            self._conn = conn
            self._pid = os.getpid()
        return self._conn

    class _Tx:
        def __init__(self, tracker: "UploadTracker") -> None:
            self.tracker = tracker

        def __enter__(self) -> sqlite3.Connection:
            self.tracker._lock.acquire()
            try:
                db = self.tracker._connection()
                db.execute("begin immediate")
            except BaseException:
                self.tracker._lock.release()
                raise
            self.db = db
            return db

        def __exit__(self, kind: Any, *_: Any) -> None:
            try:
                self.db.execute("rollback" if kind else "commit")
            finally:
                self.tracker._lock.release()

    def _write(self) -> "UploadTracker._Tx":
        return UploadTracker._Tx(self)

    def _rows(self, sql: str, *args: Any) -> List[sqlite3.Row]:
        with self._lock:
            return self._connection().execute(sql, args).fetchall()

    def find(self, key: TrackedKey) -> Optional[TrackedUpload]:
        """The latest upload of this directory for this run, finished or not."""
        rows = self._rows(
            "select * from uploads where base_url = ? and directory = ? and experiment_id = ? and variation = ?"
            " and run = ? order by updated_at desc limit 1",
            key.base_url,
            key.directory,
            key.experiment_id,
            key.variation,
            key.run,
        )
        return self._to_upload(rows[0]) if rows else None

    def _to_upload(self, row: sqlite3.Row) -> TrackedUpload:
        pieces = [
            {"path": p["path"], "partNumber": p["part_number"], "etag": p["etag"]}
            for p in self._rows("select path, part_number, etag from pieces where asset_id = ?", row["asset_id"])
        ]
        return TrackedUpload(
            key=TrackedKey(row["base_url"], row["directory"], row["experiment_id"], row["variation"], row["run"]),
            asset_id=row["asset_id"],
            asset=json.loads(row["asset"]),
            idempotency_key=row["idempotency_key"],
            files=json.loads(row["files"]),
            done=row["done"] == 1,
            pieces=pieces,
        )

    def save(self, upload: TrackedUpload) -> None:
        k = upload.key
        with self._write() as db:
            db.execute(
                "insert or replace into uploads (asset_id, base_url, directory, experiment_id, variation, run, asset,"
                " idempotency_key, files, done, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.asset_id,
                    k.base_url,
                    k.directory,
                    k.experiment_id,
                    k.variation,
                    k.run,
                    json.dumps(upload.asset),
                    upload.idempotency_key,
                    json.dumps(upload.files),
                    1 if upload.done else 0,
                    int(time.time() * 1000),
                ),
            )

    def mark_piece(self, asset_id: str, path: str, part_number: int, etag: str) -> None:
        with self._write() as db:
            db.execute(
                "insert or replace into pieces (asset_id, path, part_number, etag) values (?, ?, ?, ?)",
                (asset_id, path, part_number, etag),
            )

    def mark_done(self, asset_id: str) -> None:
        with self._write() as db:
            db.execute("update uploads set done = 1, updated_at = ? where asset_id = ?", (int(time.time() * 1000), asset_id))
            db.execute("delete from pieces where asset_id = ?", (asset_id,))

    def pending(self) -> List[TrackedUpload]:
        """Every upload not finished, as the tracker last saw it, oldest first."""
        return [self._to_upload(r) for r in self._rows("select * from uploads where done = 0 order by updated_at")]

    def resume_pending(self, chronicle: "Chronicle") -> List["DirectoryUpload"]:
        """Resumes every unfinished upload of this server, in the order they were started."""
        uploads = []
        for upload in self.pending():
            if upload.key.base_url != chronicle.base_url:
                continue
            run = chronicle.run(upload.key.experiment_id, upload.key.variation, upload.key.run)
            uploads.append(
                run.upload_directory_async(
                    upload.key.directory,
                    asset_type=upload.asset["asset_type"],
                    name=upload.asset.get("name"),
                    asset_config=upload.asset.get("asset_config"),
                    upload_tracker=self,
                )
            )
        return uploads

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> "UploadTracker":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[TrackedUpload]:  # pragma: no cover - convenience
        return iter(self.pending())
