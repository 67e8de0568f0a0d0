"""The REST API over ``http.client``: connections kept alive per thread, a deadline on every request,
answers turned into dicts or typed errors, retries for what is safe to repeat (as ``transport.ts``)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
import uuid
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._retry import ATTEMPTS, with_retries
from .errors import ChronicleError, UnavailableError, ValidationError, error_for

#: Long enough for a finalize that completes many multipart uploads; a hung connection is given up.
DEFAULT_TIMEOUT = 60.0
#: A kept-alive connection idle for longer is not reused: the server closes idle ones after a few seconds.
IDLE_REUSE_S = 2.0

_Origin = Tuple[str, str]


class Connections:
    """Keep-alive connections, one per origin per thread (``http.client`` connections are not
    thread-safe), so that many small calls do not each pay a TCP handshake."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, url: str, timeout: float) -> Tuple[http.client.HTTPConnection, str, bool]:
        """A connection for ``url``, the request target to send on it, and whether it was used before."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(400, "invalid_request", f"Not an http(s) URL: {url.split('?')[0]!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pool: Dict[_Origin, http.client.HTTPConnection] = self._pool()
        origin = (parts.scheme, parts.netloc)
        conn = pool.get(origin)
        now = time.monotonic()
        if conn is not None and (conn.sock is None or now - getattr(conn, "_methodic_used", 0.0) > IDLE_REUSE_S):
            conn.close()
            conn = None
        reused = conn is not None
        if conn is None:
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(parts.netloc, timeout=timeout)
            pool[origin] = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, target, reused

    def release(self, conn: http.client.HTTPConnection) -> None:
        """The connection's answer was read whole: it may serve the next request."""
        conn._methodic_used = time.monotonic()  # type: ignore[attr-defined]

    def discard(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        pool = self._pool()
        for origin, kept in list(pool.items()):
            if kept is conn:
                del pool[origin]

    def _pool(self) -> Dict[_Origin, http.client.HTTPConnection]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool


def read_body(resp: http.client.HTTPResponse, deadline: float, limit: Optional[int] = None) -> bytes:
    """The answer's body, given up once ``deadline`` passes even if the server trickles bytes."""
    chunks: List[bytes] = []
    kept = 0
    while True:
        if time.monotonic() > deadline:
            raise socket.timeout("the answer did not arrive in time")
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
        if not chunk:
            # Closed, the answer lets its connection carry the next request (http.client insists).
            resp.close()
            return b"".join(chunks)
        if limit is None or kept < limit:
            chunks.append(chunk)
            kept += len(chunk)


def error_from_answer(status: int, body: bytes, request_id: Optional[str], what: str) -> ChronicleError:
    """The typed error for an answer that is not a success: the API's error body when it has one."""
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
    except ValueError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str):
        details = error.get("details")
        return error_for(
            status,
            error["code"],
            error["message"],
            details if isinstance(details, dict) else None,
            error.get("request_id") if isinstance(error.get("request_id"), str) else request_id,
        )
    text = body[:300].decode("utf-8", "replace")
    return error_for(
        status, "unavailable" if status >= 500 else "invalid_request", f"{what} (HTTP {status}): {text}", None, request_id
    )


class Transport:
    """Calls of the REST API, each with a deadline, retried when asked (and when safe to repeat)."""

    def __init__(
        self,
        base_url: str,
        token: Optional[str],
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self.attempts = attempts
        self.connections = Connections()

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        retry: bool = True,
        idempotency_key: bool = False,
    ) -> Any:
        """One API call: the answer's JSON (None for 204), or a typed error. ``retry`` repeats network
        failures, timeouts, 5xx, 408 and 429 with a backoff; a create made safe by an Idempotency-Key
        (``idempotency_key``) gets one key for all its attempts."""
        sent_headers = {"accept": "application/json", **(headers or {})}
        if idempotency_key and "idempotency-key" not in {k.lower() for k in sent_headers}:
            sent_headers["idempotency-key"] = str(uuid.uuid4())
        if self.token:
            sent_headers["authorization"] = f"Bearer {self.token}"
        payload: Optional[bytes] = None
        if body is not None:
            try:
                payload = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
            except (TypeError, ValueError) as err:
                raise ValidationError(400, "invalid_request", f"The body of {method} {path} is not JSON: {err}") from None
            sent_headers["content-type"] = "application/json"
        url = self.base_url + path
        if query:
            kept = {k: _query_value(v) for k, v in query.items() if v is not None}
            if kept:
                url += "?" + urllib.parse.urlencode(kept)
        return with_retries(
            lambda _n: self._once(method, url, path, payload, sent_headers),
            attempts=self.attempts if retry else 1,
        )

    def _once(self, method: str, url: str, path: str, payload: Optional[bytes], headers: Dict[str, str]) -> Any:
        deadline = time.monotonic() + self.timeout
        for fresh_try in (False, True):
            conn, target, reused = self.connections.get(url, self.timeout)
            try:
                conn.request(method, target, body=payload, headers=headers)
                resp = conn.getresponse()
                body = read_body(resp, deadline)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                self.connections.discard(conn)
                # A kept-alive connection the server had just closed: the request never reached it.
                if reused and not fresh_try:
                    continue
                raise self._network_error(method, path, err) from None
            except (OSError, http.client.HTTPException) as err:
                self.connections.discard(conn)
                raise self._network_error(method, path, err) from None
            if resp.will_close:
                self.connections.discard(conn)
            else:
                self.connections.release(conn)
            break
        request_id = resp.getheader("x-request-id")
        if not 200 <= resp.status < 300:
            raise error_from_answer(resp.status, body, request_id, f"{method} {path}")
        if resp.status == 204 or not body:
            return None
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError:
            raise ChronicleError(
                resp.status, "internal", f"The answer of {method} {path} is not JSON: {body[:200]!r}", None, request_id
            ) from None

    def _network_error(self, method: str, path: str, err: BaseException) -> UnavailableError:
        if isinstance(err, socket.timeout):
            why = f"did not answer {method} {path} within {self.timeout:g} s"
        else:
            why = f"did not answer {method} {path}: {err or type(err).__name__}"
        return UnavailableError(0, "network_error", f"Chronicle at {self.base_url} {why}.")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quote(segment: Any) -> str:
    """One path segment, encoded whole (a variation key's dots and dashes stay as they are)."""
    return urllib.parse.quote(str(segment), safe="")
