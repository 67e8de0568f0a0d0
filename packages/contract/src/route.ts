import type { z } from "zod";
import { ErrorBody } from "./errors.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route: nobody needs a token for `none`; scopes nest admin ⊃ write ⊃ read. */
export type Access = "none" | "read" | "write" | "admin";

export interface RouteDef {
  method: HttpMethod;
  /** Fastify-style path: `/v1/experiments/:exp`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success answers by status. */
  responses: Record<number, z.ZodType>;
  /** Error statuses this route answers besides 500 and 503, each with the error body. */
  errors: readonly number[];
}

/**
 * One entry of the route table. The error statuses become responses with the one error body, and
 * every route may answer 500 `internal` and 503 `unavailable`.
 */
export function defineRoute<const R extends RouteDef>(route: R): R {
  const responses: Record<number, z.ZodType> = { ...route.responses };
  for (const status of [...route.errors, 500, 503]) responses[status] = ErrorBody;
  // Typed by its success answers; at run time `responses` also holds the error statuses.
  return { ...route, responses } as R;
}
