"""The client's one exception hierarchy, named and coded like the TypeScript SDK's (``errors.ts``)."""

from __future__ import annotations

from typing import Any, Dict, Optional


class ChronicleError(Exception):
    """Any answer of the API that is not a success, with the API's error body.

    ``status`` is the HTTP status (0 when there was no answer at all), ``code`` the API's error code
    (``asset_not_found``, ``run_finished``, ...; ``network_error`` without an answer), ``details`` the
    body's details and ``request_id`` the server's id of the request, to quote when reporting it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Optional[Dict[str, Any]] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class ValidationError(ChronicleError):
    """400, 413, 415, 429: the request itself is wrong; ``details["fields"]`` names what."""


class AuthError(ChronicleError):
    """401 or 403: no token, an unknown or revoked one, or too small a scope."""


class NotFoundError(ChronicleError):
    """404: the experiment, variation, run or asset does not exist."""


class ConflictError(ChronicleError):
    """409: the thing exists in a state that does not allow this (a finished run, a pending asset, ...)."""


class UnavailableError(ChronicleError):
    """5xx or no answer at all: worth retrying later."""


def error_for(
    status: int,
    code: str,
    message: str,
    details: Optional[Dict[str, Any]] = None,
    request_id: Optional[str] = None,
) -> ChronicleError:
    """The typed error for an HTTP status, as the TypeScript SDK's ``errorFor`` picks it."""
    cls: "type[ChronicleError]"
    if status in (401, 403):
        cls = AuthError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status >= 500 or status == 0:
        cls = UnavailableError
    elif status >= 400:
        cls = ValidationError
    else:
        cls = ChronicleError
    return cls(status, code, message, details, request_id)


def is_transient(err: BaseException) -> bool:
    """Worth another try: no answer, a timeout, overload, or a server or storage failure."""
    return isinstance(err, UnavailableError) or (isinstance(err, ChronicleError) and err.status in (408, 429))
