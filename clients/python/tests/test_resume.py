"""A trainer SIGKILLed mid-upload and started again on the same run index with the same tracker file
resumes the same asset, and sends again at most the pieces that were in flight when it died."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from conftest import _experiment, _token, make_files
from harness import Child, Server, python_env

from methodic import Chronicle, UploadTracker

TESTS = Path(__file__).resolve().parent
MiB = 1024 * 1024
PART = 5 * MiB
CONCURRENCY = 3


def _wait_until(condition, timeout: float = 300.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def test_sigkill_mid_upload_resumes_the_same_asset(server: Server, tmp_path: Path, record_property) -> None:  # type: ignore[no-untyped-def]
    exp_id = _experiment(server)
    contents = make_files(tmp_path / "ckpt", {"model.bin": 40 * MiB + 17, "optim.bin": 12 * MiB, "meta.json": 300}, seed=3)
    size = sum(len(b) for b in contents.values())
    args = [sys.executable, str(TESTS / "trainer.py"), exp_id, "v", "0", str(tmp_path / "ckpt"), str(tmp_path / "t.sqlite"), str(PART), str(CONCURRENCY)]
    env = python_env(server, _token(server))
    counts = server.counts()
    base_bytes, base_started, base_done = counts.put_bytes, counts.puts_started, counts.puts_succeeded

    # Slowed down in front of storage, so that the kill lands while pieces are on the way.
    server.proxy.delay_per_mib = 0.15
    try:
        first = Child(args, env)
        _wait_until(lambda: counts.puts_succeeded - base_done >= 3, what=f"no pieces went up:\n{first.output()}")
        first.stop(signal.SIGKILL)
        with counts.lock:
            in_flight = (counts.puts_started - base_started) - (counts.puts_succeeded - base_done)
            sent_before = counts.put_bytes - base_bytes
    finally:
        server.proxy.delay_per_mib = 0.0
    pending = UploadTracker(db_path=tmp_path / "t.sqlite").pending()
    assert len(pending) == 1
    asset_id = pending[0].asset_id

    second = Child(args, env)
    assert second.wait(300) == 0, second.output()
    answer = json.loads(second.wait_for(r"ASSET (.*)").group(1))
    assert answer["id"] == asset_id and answer["state"] == "ready" and answer["size"] == size

    resent = (counts.put_bytes - base_bytes) - size
    record_property("sent_before_kill_bytes", sent_before)
    record_property("pieces_in_flight_at_kill", in_flight)
    record_property("resent_bytes", resent)
    print(f"[{server.name}] before the kill {sent_before} bytes, {in_flight} pieces in flight; re-sent {resent} bytes")
    # At most the pieces between their PUT and their record in the tracker when the process died:
    # no more than one per lane, and never a whole file again.
    assert 0 <= resent <= CONCURRENCY * PART
    assert resent <= max(in_flight, 1) * PART + PART

    target = tmp_path / "back"
    Chronicle(server.url, server.admin_token).download_asset(asset_id, target)
    for path, data in contents.items():
        assert (target / path).read_bytes() == data


def test_resume_pending_finds_the_killed_upload(embedded_server: Server, tmp_path: Path) -> None:
    """The next process need not know the directory: the tracker's resume_pending resumes it."""
    server = embedded_server
    exp_id = _experiment(server)
    contents = make_files(tmp_path / "ckpt", {"model.bin": 30 * MiB}, seed=5)
    args = [sys.executable, str(TESTS / "trainer.py"), exp_id, "v", "0", str(tmp_path / "ckpt"), str(tmp_path / "t.sqlite"), str(PART), "2"]
    counts = server.counts()
    done_before = counts.puts_succeeded
    server.proxy.delay_per_mib = 0.15
    try:
        first = Child(args, python_env(server, _token(server)))
        _wait_until(lambda: counts.puts_succeeded - done_before >= 2, what=f"no pieces went up:\n{first.output()}")
        first.stop(signal.SIGKILL)
    finally:
        server.proxy.delay_per_mib = 0.0
    tracker = UploadTracker(db_path=tmp_path / "t.sqlite")
    (pending,) = tracker.pending()
    chronicle = Chronicle(server.url, _token(server))
    (upload,) = tracker.resume_pending(chronicle)
    asset = upload.result(300)
    assert asset["id"] == pending.asset_id and asset["state"] == "ready"
    assert tracker.pending() == []
    chronicle.download_asset(asset["id"], tmp_path / "back")
    assert (tmp_path / "back" / "model.bin").read_bytes() == contents["model.bin"]


def test_tracker_shared_by_processes_and_threads(tmp_path: Path) -> None:
    import multiprocessing

    db = tmp_path / "shared.sqlite"
    from methodic.tracker import TrackedKey, TrackedUpload

    UploadTracker(db_path=db).save(TrackedUpload(TrackedKey("u", "/d", "e", "v", 0), "a1", {"asset_type": "checkpoint"}, "k", []))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_mark_many, args=(str(db), worker)) for worker in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    found = UploadTracker(db_path=db).find(TrackedKey("u", "/d", "e", "v", 0))
    assert found is not None and len(found.pieces) == 4 * 2 * 50


def _mark_many(db: str, worker: int) -> None:
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from methodic import UploadTracker as Tracker

    tracker = Tracker(db_path=db)

    def mark(lane: int) -> None:
        for i in range(50):
            tracker.mark_piece("a1", f"w{worker}/l{lane}", i + 1, f"etag-{i}")

    threads = [threading.Thread(target=mark, args=(lane,)) for lane in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
