"""Fixtures: one real server per kind for the whole session (PGlite or PostgreSQL, local disk or
MinIO), a fresh experiment per test, and a Chronicle client for it."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Minio, Server, minio_binary  # noqa: E402

from methodic import Chronicle  # noqa: E402

KINDS: List[Tuple[str, str]] = [("pglite", "local"), ("postgres", "local"), ("pglite", "minio"), ("postgres", "minio")]
_reported: set = set()


def _unavailable(database: str, storage: str) -> str:
    if database == "postgres" and not os.environ.get("TEST_DATABASE_URL"):
        return 'PostgreSQL tests not run: TEST_DATABASE_URL is not set (TEST_DATABASE_URL="$(.ci/postgres | tail -n 1)")'
    if storage == "minio" and not minio_binary():
        return 'MinIO tests not run: TEST_MINIO_BIN is not set or missing (TEST_MINIO_BIN="$(.ci/minio | tail -n 1)")'
    return ""


class Servers:
    """Servers started on first use and stopped at the end of the session."""

    def __init__(self) -> None:
        self.minio: "Minio | None" = None
        self.servers: Dict[str, Server] = {}

    def get(self, database: str, storage: str, **env: str) -> Server:
        key = f"{database}-{storage}-" + ",".join(f"{k}={v}" for k, v in sorted(env.items()))
        if key not in self.servers:
            if storage == "minio" and self.minio is None:
                binary = minio_binary()
                assert binary is not None
                self.minio = Minio(binary)
            self.servers[key] = Server(database, storage, minio=self.minio, extra_env=env)
        return self.servers[key]

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        if self.minio is not None:
            self.minio.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.close()


def _server_for(request: pytest.FixtureRequest, servers: Servers, database: str, storage: str) -> Server:
    why = _unavailable(database, storage)
    if why:
        pytest.skip(why)
    return servers.get(database, storage)


@pytest.fixture(params=KINDS, ids=[f"{d}-{s}" for d, s in KINDS])
def server(request: pytest.FixtureRequest, servers: Servers) -> Server:
    """The server of each kind in turn (a test using it runs four times)."""
    database, storage = request.param
    return _server_for(request, servers, database, storage)


@pytest.fixture
def embedded_server(request: pytest.FixtureRequest, servers: Servers) -> Server:
    """The embedded default: PGlite and the local disk."""
    return servers.get("pglite", "local")


def _experiment(server: Server, **fields: object) -> str:
    admin = Chronicle(server.url, server.admin_token)
    exp_id = f"py-{secrets.token_hex(6)}"
    admin.create_experiment(exp_id, **fields)
    return exp_id


@pytest.fixture
def write_token(server: Server) -> str:
    return _token(server)


def _token(server: Server) -> str:
    cached = getattr(server, "_write_token", None)
    if cached is None:
        cached = Chronicle(server.url, server.admin_token).create_token(f"py-{secrets.token_hex(4)}", "write")["token"]
        server._write_token = cached  # type: ignore[attr-defined]
    return cached


def client_of(server: Server) -> Chronicle:
    """A client with a write token of the server, heartbeating every second."""
    return Chronicle(server.url, _token(server), heartbeat_interval=1.0)


@pytest.fixture
def chronicle(server: Server) -> Chronicle:
    return client_of(server)


@pytest.fixture
def exp_id(server: Server) -> str:
    return _experiment(server)


@pytest.fixture
def embedded_chronicle(embedded_server: Server) -> Chronicle:
    return client_of(embedded_server)


@pytest.fixture
def embedded_exp(embedded_server: Server) -> str:
    return _experiment(embedded_server)


def make_files(directory: Path, sizes: Dict[str, int], seed: int = 0) -> Dict[str, bytes]:
    """Files of pseudo-random bytes (repeatable by seed) under ``directory``; returns their contents."""
    import random

    rng = random.Random(seed)
    written = {}
    for path, size in sizes.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(size) if hasattr(rng, "randbytes") else bytes(rng.getrandbits(8) for _ in range(size))
        target.write_bytes(data)
        written[path] = data
    return written


# -- the run's report -------------------------------------------------------------------------------
# Counts in the shape of the TypeScript suites' test-results.json (numPassedTests, numFailedTests and
# the counts per project, a project per kind of server, "-minio" last for those on MinIO), so that
# one closing line can add them all up. Written where METHODIC_PYTEST_REPORT says.
_outcomes: Dict[str, Tuple[str, str]] = {}


def _project(nodeid: str) -> str:
    for database, storage in KINDS:
        if f"[{database}-{storage}" in nodeid:
            return f"python-{database}-{storage}"
    return "python"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    previous = _outcomes.get(report.nodeid, ("", ""))[0]
    if report.failed:
        outcome = "failed"
    elif report.skipped and previous != "failed":
        outcome = "skipped"
        if isinstance(report.longrepr, tuple):
            _reported.add(str(report.longrepr[2]).replace("Skipped: ", ""))
    elif report.when == "call" and previous not in ("failed", "skipped"):
        outcome = "passed"
    else:
        return
    _outcomes[report.nodeid] = (outcome, _project(report.nodeid))


def pytest_terminal_summary(terminalreporter: object) -> None:
    for why in sorted(_reported):
        terminalreporter.write_line(why)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    import json

    path = os.environ.get("METHODIC_PYTEST_REPORT")
    if not path:
        return
    projects: Dict[str, Dict[str, int]] = {}
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome, project in _outcomes.values():
        totals[outcome] += 1
        counts = projects.setdefault(project, {"passed": 0, "failed": 0, "skipped": 0})
        counts[outcome] += 1
    Path(path).write_text(
        json.dumps(
            {
                "numPassedTests": totals["passed"],
                "numFailedTests": totals["failed"],
                "numPendingTests": totals["skipped"],
                "numTotalTests": sum(totals.values()),
                "projects": projects,
            },
            indent=2,
        )
        + "\n"
    )
