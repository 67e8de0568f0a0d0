"""The real things the tests run against, each in a process of its own: the built TypeScript server
(on PGlite or PostgreSQL, local disk or MinIO), MinIO, and a counting proxy in front of storage."""

from __future__ import annotations

import http.client
import http.server
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[3]
SERVER_ENTRY = ROOT / "apps" / "server" / "dist" / "server.js"
CLIENT_SRC = ROOT / "clients" / "python" / "src"


class Child:
    """A child process whose output (stdout and stderr together) is collected as it comes."""

    def __init__(self, args: List[str], env: Dict[str, str], cwd: Optional[str] = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._output: List[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            with self._changed:
                self._output.append(line.decode("utf-8", "replace"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "".join(self._output)

    def wait_for(self, pattern: str, timeout: float = 120.0) -> "re.Match[str]":
        """The first match in what the child printed; fails if it exits first or the time runs out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = regex.search("".join(self._output))
                if match:
                    return match
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.args[0]} exited ({self.proc.returncode}) before printing {pattern!r}:\n{self.output_unlocked()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.args[0]} did not print {pattern!r} in {timeout} s:\n{self.output_unlocked()}")
                self._changed.wait(min(left, 0.5))

    def output_unlocked(self) -> str:
        return "".join(self._output)[-4000:]

    def wait(self, timeout: float = 300.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)


@dataclass
class Counts:
    """What went through the proxy: bytes PUT (by Content-Length, whether or not the PUT completed),
    PUTs begun and answered with a success, and bytes of GET answers relayed."""

    put_bytes: int = 0
    puts_started: int = 0
    puts_succeeded: int = 0
    get_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CountingProxy:
    """An HTTP proxy to ``upstream`` that forwards every request as it is (its Host header included,
    which signatures cover) and counts the bytes; ``delay_per_mib`` slows PUT bodies down, so that a
    test can kill a client while its pieces are on the way."""

    def __init__(self) -> None:
        self.upstream: Optional[str] = None
        self.counts = Counts()
        self.delay_per_mib = 0.0
        #: How many requests of each method to answer 403 before they reach storage, as an expired URL
        #: is: the first request for each piece (its path and part), never its retry.
        self.refuse: Dict[str, int] = {}
        self._refused: set = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _forward(self) -> None:
                assert proxy.upstream is not None
                target = urllib.parse.urlsplit(proxy.upstream)
                length = int(self.headers.get("content-length") or 0)
                is_put = self.command == "PUT"
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                piece = (self.command, url.path, (query.get("partNumber") or query.get("part") or [""])[0])
                with proxy.counts.lock:
                    refused = proxy.refuse.get(self.command, 0) > 0 and piece not in proxy._refused
                    if refused:
                        proxy.refuse[self.command] -= 1
                        proxy._refused.add(piece)
                if refused:
                    self.rfile.read(length)
                    body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                    self.send_response_only(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if is_put:
                    with proxy.counts.lock:
                        proxy.counts.put_bytes += length
                        proxy.counts.puts_started += 1
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
                try:
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in ("connection", "keep-alive"):
                            upstream.putheader(name, value)
                    upstream.endheaders()
                    left = length
                    while left > 0:
                        chunk = self.rfile.read(min(left, 256 * 1024))
                        if not chunk:
                            return
                        upstream.send(chunk)
                        left -= len(chunk)
                        if is_put and proxy.delay_per_mib:
                            time.sleep(proxy.delay_per_mib * len(chunk) / (1024 * 1024))
                    answer = upstream.getresponse()
                    body = answer.read()
                    if self.command == "GET":
                        with proxy.counts.lock:
                            proxy.counts.get_bytes += len(body)
                    if is_put and 200 <= answer.status < 300:
                        with proxy.counts.lock:
                            proxy.counts.puts_succeeded += 1
                    self.send_response_only(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True
                finally:
                    upstream.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client killed mid-request is what some tests do

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- MinIO ------------------------------------------------------------------------------------------
MINIO_USER = "methodic-test"
MINIO_PASSWORD = "methodic-test-secret"


def minio_binary() -> Optional[str]:
    binary = os.environ.get("TEST_MINIO_BIN")
    return binary if binary and os.path.exists(binary) else None


class Minio:
    def __init__(self, binary: str) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="methodic-py-minio-")
        self.child = Child(
            [binary, "server", self.data_dir, "--address", "127.0.0.1:0"],
            {
                "PATH": os.environ.get("PATH", ""),
                "HOME": self.data_dir,
                "MINIO_ROOT_USER": MINIO_USER,
                "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
                "MINIO_BROWSER": "off",
                "MINIO_API_STALE_UPLOADS_EXPIRY": "168h",
                "MINIO_UPDATE": "off",
            },
        )
        self.endpoint = self.child.wait_for(r"API: (http://127\.0\.0\.1:\d+)").group(1)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{self.endpoint}/minio/health/live", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"MinIO at {self.endpoint} never became live:\n{self.child.output()}")

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=MINIO_USER,
            aws_secret_access_key=MINIO_PASSWORD,
            config=Config(s3={"addressing_style": "path"}),
        )

    def bucket(self) -> str:
        name = f"methodic-py-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def close(self) -> None:
        self.child.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


# -- PostgreSQL -------------------------------------------------------------------------------------
def _psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True)


class PostgresDatabase:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"methodic_py_{secrets.token_hex(5)}"
        _psql(admin_url, f'create database "{self.name}"')
        parts = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, ""))

    def drop(self) -> None:
        _psql(self.admin_url, f'drop database if exists "{self.name}" with (force)')


# -- the server -------------------------------------------------------------------------------------
class Server:
    """The built server in a child process, on a port the system picks, its blob traffic (local
    blobs or MinIO's presigned URLs) through a counting proxy."""

    def __init__(
        self,
        database: str,
        storage: str,
        *,
        minio: Optional[Minio] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ) -> None:
        if not SERVER_ENTRY.exists():
            raise RuntimeError(f"{SERVER_ENTRY} is missing: run `pnpm --filter @methodic/server... build` first")
        self.database, self.storage = database, storage
        self.data_dir = tempfile.mkdtemp(prefix="methodic-py-server-")
        self.admin_token = secrets.token_hex(24)
        self.proxy = CountingProxy()
        self.postgres: Optional[PostgresDatabase] = None
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "PORT": "0",
            "LOG_LEVEL": "info",
            "METHODIC_DATA_DIR": self.data_dir,
            "METHODIC_ADMIN_TOKEN": self.admin_token,
        }
        if database == "postgres":
            self.postgres = PostgresDatabase(os.environ["TEST_DATABASE_URL"])
            env["DATABASE_URL"] = self.postgres.url
        if storage == "minio":
            assert minio is not None
            self.minio = minio
            self.bucket = minio.bucket()
            self.proxy.upstream = minio.endpoint
            env.update(
                S3_BUCKET=self.bucket,
                S3_ENDPOINT=minio.endpoint,
                S3_PUBLIC_ENDPOINT=self.proxy.url,
                S3_REGION="us-east-1",
                S3_FORCE_PATH_STYLE="true",
                AWS_ACCESS_KEY_ID=MINIO_USER,
                AWS_SECRET_ACCESS_KEY=MINIO_PASSWORD,
            )
        else:
            # Local blobs' signed URLs point at the proxy, which forwards to the server itself.
            env["METHODIC_PUBLIC_URL"] = self.proxy.url
        env.update(extra_env or {})
        self.env = env
        self.child = Child(["node", str(SERVER_ENTRY)], env)
        self.url = self.child.wait_for(r'"msg":"Server listening at (http://127\.0\.0\.1:\d+)"').group(1)
        if storage == "local":
            self.proxy.upstream = self.url

    @property
    def name(self) -> str:
        return f"{self.database}-{self.storage}"

    def counts(self) -> Counts:
        return self.proxy.counts

    def close(self) -> None:
        self.child.stop()
        self.proxy.close()
        if self.postgres is not None:
            self.postgres.drop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def python_env(server: Server, token: str, **extra: str) -> Dict[str, str]:
    """A trainer's environment: the server and token by METHODIC_URL / METHODIC_TOKEN, the client on
    PYTHONPATH (as the README says it can be used without installing)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "METHODIC_URL": server.url,
        "METHODIC_TOKEN": token,
        "PYTHONPATH": str(CLIENT_SRC),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env
