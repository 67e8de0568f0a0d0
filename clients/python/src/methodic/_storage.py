"""Bytes to and from the URLs storage signs: one PUT of a file's byte range, streamed from disk."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from ._files import CHUNK
from ._transport import Connections, read_body
from .errors import UnavailableError

#: A storage server silent for this long is gone; the PUT fails and is retried.
STORAGE_TIMEOUT = 300.0


@dataclass
class StorageAnswer:
    status: int
    etag: Optional[str]
    #: The start of the body, for error messages.
    text: str


def _send_range(sock: socket.socket, path: str, offset: int, size: int) -> None:
    with open(path, "rb", buffering=0) as f:
        if not isinstance(sock, ssl.SSLSocket):
            # The kernel copies the file to the socket: no bytes through Python, no buffer to hold.
            sock.sendfile(f, offset, size)
            return
        f.seek(offset)
        buffer = bytearray(min(CHUNK, size))
        left = size
        while left > 0:
            n = f.readinto(memoryview(buffer)[: min(len(buffer), left)])
            if not n:
                raise OSError(f"{path} ended {left} bytes early")
            sock.sendall(memoryview(buffer)[:n])
            left -= n


def put_range(
    connections: Connections,
    url: str,
    headers: Mapping[str, str],
    path: str,
    offset: int,
    size: int,
    timeout: float = STORAGE_TIMEOUT,
    what: str = "",
) -> StorageAnswer:
    """PUTs ``size`` bytes of ``path`` from ``offset`` to a signed URL, with exactly the plan's headers
    and a Content-Length (which the signature binds). No redirect is followed: a signed URL has none
    worth following. A network failure is an UnavailableError (retried by the caller)."""
    for fresh_try in (False, True):
        conn, target, reused = connections.get(url, timeout)
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    conn.putheader(name, value)
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            sent_error: Optional[OSError] = None
            if size > 0:
                try:
                    assert conn.sock is not None
                    _send_range(conn.sock, path, offset, size)
                except OSError as err:
                    # Storage may have answered (a refusal) and closed before taking every byte.
                    sent_error = err
            try:
                resp = conn.getresponse()
                body = read_body(resp, time.monotonic() + timeout, limit=4096)
            except (OSError, http.client.HTTPException):
                if sent_error is not None:
                    raise sent_error from None
                raise
            if sent_error is not None or resp.will_close:
                connections.discard(conn)
            else:
                connections.release(conn)
            return StorageAnswer(resp.status, resp.getheader("etag"), body[:4096].decode("utf-8", "replace"))
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
            connections.discard(conn)
            if reused and not fresh_try:
                continue
            raise UnavailableError(0, "network_error", f"Uploading {what or path} failed: {err}") from None
        except (OSError, http.client.HTTPException) as err:
            connections.discard(conn)
            why = f"storage did not answer within {timeout:g} s" if isinstance(err, socket.timeout) else str(err)
            raise UnavailableError(0, "network_error", f"Uploading {what or path} failed: {why}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def file_size(path: str) -> Optional[int]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    import stat

    return info.st_size if stat.S_ISREG(info.st_mode) else None
