import { z } from "zod";
import { ERROR_STATUS, ErrorBody, type ErrorCode, ErrorDetail } from "./errors.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route: nobody needs a token for `none`; scopes nest admin ⊃ write ⊃ read. */
export type Access = "none" | "read" | "write" | "admin";

/**
 * Whether a client may send a request again after it got no answer (a timeout, a dropped connection,
 * a 503): GET, PUT and DELETE are; a POST only when its route says so. `with-key` is a create whose
 * repeat is safe when it carries an `Idempotency-Key` header, which the SDK always sends.
 */
export type Idempotency = boolean | "with-key";

/** What a route table entry is written with. */
export interface RouteSpec {
  method: HttpMethod;
  /** Fastify-style path: `/v1/experiments/:exp`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request headers the route reads (loose: every other header passes through). */
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** Success answers by status. */
  responses: Record<number, z.ZodType>;
  /**
   * The error codes this route answers besides those its shape implies (`invalid_request` for a route
   * with input, `unauthorized`, `forbidden` and `rate_limited` for one that needs a token,
   * `payload_too_large`, `unsupported_media_type` and `request_timeout` for one with a body, `internal`
   * and `unavailable` for all).
   */
  errors?: readonly ErrorCode[];
  /** For a POST: whether a repeat is safe (see Idempotency); other methods are safe by their nature. */
  idempotent?: Idempotency;
}

/** A route table entry as defineRoute completes it. */
export interface RouteDef extends RouteSpec {
  /** Every error code the route may answer, derived ones included. */
  errors: readonly ErrorCode[];
  idempotent: Idempotency;
}

/** The error codes a route's shape implies, in addition to the ones it names. */
export function derivedErrors(route: RouteSpec): ErrorCode[] {
  return [
    ...(route.params || route.query || route.headers || route.body ? (["invalid_request"] as const) : []),
    ...(route.access !== "none" ? (["unauthorized", "forbidden", "rate_limited"] as const) : []),
    ...(route.body ? (["payload_too_large", "unsupported_media_type", "request_timeout"] as const) : []),
    "internal",
    "unavailable",
  ];
}

/** The error body of one status, its code limited to what the route answers with that status. */
function errorBodyFor(codes: ErrorCode[]): z.ZodType {
  if (codes.length === Object.keys(ERROR_STATUS).length) return ErrorBody;
  return z
    .object({ error: ErrorDetail.extend({ code: z.enum(codes as [ErrorCode, ...ErrorCode[]]) }) })
    .describe(`Error: ${codes.map((code) => `\`${code}\``).join(", ")}`);
}

/**
 * One entry of the route table: the error codes it answers become its error responses, one per
 * status, each naming its codes (so the OpenAPI document says which 409 a route gives).
 */
export function defineRoute<const R extends RouteSpec>(
  route: R,
): R & { errors: readonly ErrorCode[]; idempotent: Idempotency } {
  const errors = [...new Set([...derivedErrors(route), ...(route.errors ?? [])])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errors) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const responses: Record<number, z.ZodType> = { ...route.responses };
  for (const [status, codes] of byStatus) responses[status] = errorBodyFor(codes);
  // Our PUT, PATCH and DELETE set a state rather than change one by a step: repeating them is safe.
  const idempotent = route.method === "POST" ? (route.idempotent ?? false) : true;
  // Typed by its success answers; at run time `responses` also holds the error statuses.
  return { ...route, errors, idempotent, responses } as R & { errors: readonly ErrorCode[]; idempotent: Idempotency };
}
