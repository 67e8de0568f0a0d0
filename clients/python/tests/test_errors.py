"""Bad input and server failures surface as the typed errors, with the API's status and code, and
never as a hang: every request has a deadline, every retry loop an end."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from conftest import _token, make_files
from harness import Server, free_port

from methodic import (
    AuthError,
    Chronicle,
    ChronicleError,
    ConflictError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)


def test_api_errors_are_typed(embedded_server: Server, embedded_exp: str) -> None:
    chronicle = Chronicle(embedded_server.url, _token(embedded_server))
    with pytest.raises(NotFoundError) as missing:
        chronicle.run("no-such-experiment", "v", 0).start()
    assert missing.value.status == 404 and missing.value.code == "experiment_not_found"
    assert missing.value.request_id

    run = chronicle.run(embedded_exp, "v", 0)
    run.start()
    with pytest.raises(ValidationError) as bad:
        run.upload_asset(asset_type="Not A Type", content={})
    assert bad.value.status == 400 and bad.value.code == "invalid_request"
    assert any(f["path"] == "asset_type" for f in bad.value.details["fields"])
    with pytest.raises(ValidationError) as large:
        run.upload_environment({"blob": "x" * (1024 * 1024 + 1)})
    assert large.value.status == 413 and large.value.code == "payload_too_large"
    with pytest.raises(ValidationError) as not_json:
        run.upload_asset(asset_type="metric", content={"loss": float("nan")})
    assert not_json.value.code == "invalid_request"
    with pytest.raises(NotFoundError) as no_asset:
        chronicle.get_asset("0190a2b4-0000-7000-8000-000000000000")
    assert no_asset.value.code == "asset_not_found"

    run.succeed()
    with pytest.raises(ConflictError) as finished:
        run.fail("too late")
    assert finished.value.status == 409 and finished.value.code == "run_state_conflict"

    with pytest.raises(AuthError) as unknown:
        Chronicle(embedded_server.url, "not-a-token").run(embedded_exp, "v", 1).start()
    assert unknown.value.status == 401 and unknown.value.code == "unauthorized"
    reader = Chronicle(embedded_server.url, embedded_server.admin_token).create_token("reader", "read")["token"]
    with pytest.raises(AuthError) as scope:
        Chronicle(embedded_server.url, reader).run(embedded_exp, "v", 1).start()
    assert scope.value.status == 403 and scope.value.code == "forbidden"


def test_upload_failures_reach_succeed_and_print_nothing(
    embedded_server: Server, embedded_exp: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    chronicle = Chronicle(embedded_server.url, _token(embedded_server))
    never_started = chronicle.run(embedded_exp, "v", 7)
    make_files(tmp_path / "ckpt", {"a.bin": 1000})
    upload = never_started.upload_directory_async(tmp_path / "ckpt", asset_type="checkpoint")
    with pytest.raises(NotFoundError) as caught:
        never_started.succeed()
    assert caught.value.code in ("run_not_found", "variation_not_found")
    assert upload.exception() is caught.value

    run = chronicle.run(embedded_exp, "v", 8)
    run.start()
    gone = run.upload_directory_async(tmp_path / "no-such-dir", asset_type="checkpoint")
    with pytest.raises(FileNotFoundError):
        gone.result(60)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError) as nothing:
        run.upload_directory_async(tmp_path / "empty", asset_type="checkpoint").result(60)
    assert nothing.value.status == 400 and nothing.value.code == "invalid_request"
    # The next upload still goes ahead: a failed one releases its turn to create.
    ok = run.upload_directory_async(tmp_path / "ckpt", asset_type="checkpoint")
    assert ok.result(120)["state"] == "ready"
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


class _Fake:
    """A server of the test's own that answers as told (a hostile or broken one)."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        self.requests: List[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _any(self) -> None:
                fake.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                answer(self)

            do_GET = do_POST = do_PUT = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, headers: dict = {}) -> None:  # noqa: B006
    handler.send_response(status)
    for k, v in {"content-type": "application/json", **headers}.items():
        handler.send_header(k, v)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def fake() -> Iterator[Callable[..., _Fake]]:
    made: List[_Fake] = []

    def make(answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> _Fake:
        made.append(_Fake(answer))
        return made[-1]

    yield make
    for f in made:
        f.close()


def _within(seconds: float, work: Callable[[], None]) -> BaseException:
    """Runs ``work`` in a thread and returns what it raised; fails if it is still running after
    ``seconds`` (a bound against hanging forever, far above the expected time)."""
    raised: List[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as err:  # noqa: BLE001
            raised.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    assert raised, "no error was raised"
    return raised[0]


def test_no_server_is_unavailable() -> None:
    chronicle = Chronicle(f"http://127.0.0.1:{free_port()}", "t", attempts=2)
    err = _within(60, lambda: chronicle.run("e", "v", 0).start())
    assert isinstance(err, UnavailableError) and err.status == 0 and err.code == "network_error"


def test_a_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (the kernel does), never answers
    try:
        chronicle = Chronicle(f"http://127.0.0.1:{listener.getsockname()[1]}", "t", timeout=0.5, attempts=2)
        err = _within(60, lambda: chronicle.run("e", "v", 0).heartbeat())
        assert isinstance(err, UnavailableError) and "within 0.5 s" in str(err)
    finally:
        listener.close()


def test_server_errors_are_retried_then_raised(fake: Callable[..., _Fake]) -> None:
    body = json.dumps({"error": {"code": "unavailable", "message": "database down", "request_id": "r1"}}).encode()
    server = fake(lambda h: _send(h, 503, body))
    chronicle = Chronicle(server.url, "t", attempts=3)
    err = _within(60, lambda: chronicle.run("e", "v", 0).heartbeat())
    assert isinstance(err, UnavailableError) and err.status == 503 and err.code == "unavailable"
    assert err.request_id == "r1" and str(err) == "database down"
    assert len(server.requests) == 3
    # A create that is not safe to repeat is sent once.
    server.requests.clear()
    err = _within(60, lambda: chronicle.create_experiment("e"))
    assert isinstance(err, UnavailableError) and len(server.requests) == 1


def test_an_answer_that_is_not_the_api_s_is_still_typed(fake: Callable[..., _Fake]) -> None:
    server = fake(lambda h: _send(h, 502, b"<html>bad gateway</html>", {"content-type": "text/html", "x-request-id": "gw"}))
    err = _within(60, lambda: Chronicle(server.url, "t", attempts=1).get_asset("x"))
    assert isinstance(err, UnavailableError) and err.status == 502 and err.request_id == "gw"


def _download_plan(paths: List[str], data_url: str) -> bytes:
    return json.dumps(
        {
            "expires_at": "2030-01-01T00:00:00.000Z",
            "components": [{"path": p, "size": 3, "sha256": "0" * 64, "url": data_url} for p in paths],
        }
    ).encode()


@pytest.mark.parametrize("path", ["../evil", "/etc/evil", "a/../../evil", "a\\evil", "a//b", "./a", "C:/evil"])
def test_download_refuses_paths_outside_the_target(fake: Callable[..., _Fake], tmp_path: Path, path: str) -> None:
    server = fake(lambda h: _send(h, 200, _download_plan([path], "http://127.0.0.1:1/x")))
    target = tmp_path / "target"
    err = _within(60, lambda: Chronicle(server.url, "t").download_asset("x", target))
    assert isinstance(err, ValidationError) and err.code == "invalid_request"
    assert list(tmp_path.rglob("*evil*")) == []


def test_download_refuses_a_symlink_out_of_the_target(fake: Callable[..., _Fake], tmp_path: Path) -> None:
    server = fake(lambda h: _send(h, 200, _download_plan(["link/evil"], "http://127.0.0.1:1/x")))
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "outside").mkdir()
    (target / "link").symlink_to(tmp_path / "outside")
    err = _within(60, lambda: Chronicle(server.url, "t").download_asset("x", target))
    assert isinstance(err, ValidationError)
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_corrupt_download_is_not_kept(fake: Callable[..., _Fake], tmp_path: Path) -> None:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/v1/"):
            _send(h, 200, _download_plan(["f.bin"], f"{server.url}/blob"))
        else:
            _send(h, 200, b"abc", {"content-type": "application/octet-stream"})

    server = fake(answer)
    err = _within(60, lambda: Chronicle(server.url, "t").download_asset("x", tmp_path / "t"))
    assert isinstance(err, ChronicleError) and err.code == "internal" and "corrupt" in str(err)
    assert list((tmp_path / "t").iterdir()) == []
