import type { ErrorCode } from "@methodic/contract";

/** Any answer of the API that is not a success, with the API's error body. */
export class ChronicleError extends Error {
  override name = "ChronicleError";

  constructor(
    readonly status: number,
    readonly code: ErrorCode | "network_error",
    message: string,
    readonly details?: Record<string, unknown>,
    /** The server's id of the request (quote it when reporting a problem); absent without an answer. */
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** 400, 413, 415: the request itself is wrong; `details.fields` names what. */
export class ValidationError extends ChronicleError {
  override name = "ValidationError";
}
/** 401 or 403: no token, an unknown or revoked one, or too small a scope. */
export class AuthError extends ChronicleError {
  override name = "AuthError";
}
/** 404: the experiment, variation, run or asset does not exist. */
export class NotFoundError extends ChronicleError {
  override name = "NotFoundError";
}
/** 409: the thing exists in a state that does not allow this (a finished run, a pending asset, ...). */
export class ConflictError extends ChronicleError {
  override name = "ConflictError";
}
/** 5xx or no answer at all: worth retrying later. */
export class UnavailableError extends ChronicleError {
  override name = "UnavailableError";
}

export function errorFor(
  status: number,
  code: ChronicleError["code"],
  message: string,
  details?: Record<string, unknown>,
  requestId?: string,
) {
  const Class =
    status === 401 || status === 403
      ? AuthError
      : status === 404
        ? NotFoundError
        : status === 409
          ? ConflictError
          : status >= 500 || status === 0
            ? UnavailableError
            : status >= 400
              ? ValidationError
              : ChronicleError;
  return new Class(status, code, message, details, requestId);
}

/** Worth another try: no answer, a timeout, overload, or a server or storage failure. */
export function isTransient(err: unknown): boolean {
  return err instanceof UnavailableError || (err instanceof ChronicleError && [408, 429].includes(err.status));
}
