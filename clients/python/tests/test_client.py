"""How the client finds its server, heartbeats, and exits: the TypeScript SDK's credentials order, a
heartbeat thread that never overlaps or keeps a process alive, its answer kept for the trainer."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import _token
from harness import Child, Server, python_env

from methodic import Chronicle


def test_credentials_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "methodic").mkdir()
    (tmp_path / "methodic" / "credentials.json").write_text(json.dumps({"url": "http://file:1/", "token": "file-token"}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("METHODIC_URL", raising=False)
    monkeypatch.delenv("METHODIC_TOKEN", raising=False)
    c = Chronicle()
    assert (c.base_url, c.transport.token) == ("http://file:1", "file-token")
    monkeypatch.setenv("METHODIC_URL", "http://env:2")
    monkeypatch.setenv("METHODIC_TOKEN", "env-token")
    c = Chronicle()
    assert (c.base_url, c.transport.token) == ("http://env:2", "env-token")
    c = Chronicle(base_url="http://arg:3", token="arg-token")
    assert (c.base_url, c.transport.token) == ("http://arg:3", "arg-token")
    monkeypatch.delenv("METHODIC_URL")
    monkeypatch.delenv("METHODIC_TOKEN")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    c = Chronicle()
    assert (c.base_url, c.transport.token) == ("http://127.0.0.1:8080", None)


def test_the_credentials_file_reaches_a_real_server(
    embedded_server: Server, embedded_exp: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "methodic").mkdir()
    (tmp_path / "methodic" / "credentials.json").write_text(
        json.dumps({"url": embedded_server.url, "token": _token(embedded_server)})
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("METHODIC_URL", raising=False)
    monkeypatch.delenv("METHODIC_TOKEN", raising=False)
    assert Chronicle().run(embedded_exp, "v", 0).start()["state"] == "running"


def test_heartbeats_in_the_background(embedded_server: Server, embedded_exp: str) -> None:
    seen = []
    chronicle = Chronicle(embedded_server.url, _token(embedded_server), heartbeat_interval=0.1, on_heartbeat=seen.append)
    run = chronicle.run(embedded_exp, "v", 0)
    run.start()
    deadline = time.monotonic() + 60
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(seen) >= 3 and run.last_heartbeat is not None
    assert run.last_heartbeat["state"] == "running" and run.last_heartbeat["last_heartbeat_at"]
    beating = [t for t in threading.enumerate() if t.name.startswith("methodic-heartbeat")]
    assert beating and all(t.daemon for t in beating)
    run.succeed()
    count = len(seen)
    time.sleep(0.5)
    assert len(seen) <= count + 1  # at most one already on its way when succeed answered


def test_a_trainer_that_returns_without_ending_its_run_exits(embedded_server: Server, embedded_exp: str) -> None:
    script = (
        "from methodic import Chronicle\n"
        f"run = Chronicle(heartbeat_interval=0.1).run({embedded_exp!r}, 'v', 3)\n"
        "run.start()\n"
        "print('STARTED', flush=True)\n"
    )
    child = Child([sys.executable, "-c", script], python_env(embedded_server, _token(embedded_server)))
    assert child.wait(120) == 0, child.output()
    assert "STARTED" in child.output() and "Traceback" not in child.output()


def test_calls_share_a_kept_alive_connection(embedded_server: Server) -> None:
    chronicle = Chronicle(embedded_server.url, embedded_server.admin_token, attempts=1)
    # Neither call is retried: each must go out on the connection the other left ready.
    chronicle.create_experiment(f"keep-{time.monotonic_ns()}")
    first = chronicle.transport.connections._pool()  # noqa: SLF001
    sock = next(iter(first.values())).sock
    chronicle.create_token("keep-alive", "read")
    assert next(iter(chronicle.transport.connections._pool().values())).sock is sock  # noqa: SLF001


def test_file_and_part_hashes(tmp_path: Path) -> None:
    import hashlib
    import os

    from methodic._files import Workers, hash_files, list_files

    part = 1000
    sizes = {"empty": 0, "one": 1, "exact": part, "over": part + 1, "three": 3 * part - 1, "big": 10 * part + 7}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(os.urandom(size))
    files = list_files(str(tmp_path))
    workers = Workers(3, "test-hash")
    try:
        hashes = hash_files(files, part, lambda work, tasks: workers.map(work, tasks, 3) and None)
    finally:
        workers.close()
    for file, (whole, parts) in zip(files, hashes):
        data = (tmp_path / file.path).read_bytes()
        assert whole == hashlib.sha256(data).hexdigest()
        if len(data) <= part:
            assert parts is None
        else:
            assert parts == [hashlib.sha256(data[i : i + part]).hexdigest() for i in range(0, len(data), part)]


def test_heartbeats_stop_once_the_run_finished_elsewhere(embedded_server: Server, embedded_exp: str) -> None:
    errors = []
    chronicle = Chronicle(embedded_server.url, _token(embedded_server), heartbeat_interval=0.1, on_heartbeat_error=errors.append)
    run = chronicle.run(embedded_exp, "v", 5)
    run.start()
    # Another process (here another handle) ends the run; this one's heartbeats learn it and stop.
    chronicle.run(embedded_exp, "v", 5).succeed()
    deadline = time.monotonic() + 60
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert errors and getattr(errors[0], "code", None) == "run_finished"
    assert run.last_heartbeat_error is errors[0]
    time.sleep(0.5)
    assert len(errors) == 1
