import { type ErrorBody, type FieldError, TOO_LARGE } from "@methodic/contract";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { isDatabaseUnavailable } from "../db/client.js";
import { ApiError } from "../errors.js";
import { StorageUnavailableError } from "../storage/types.js";

const PARTS: Record<string, string> = { body: "body", querystring: "query", params: "params", headers: "headers" };

interface ZodIssueLike {
  instancePath: string;
  keyword: string;
  message?: string;
  /** The rest of the zod issue; `params` is what a custom check attached. */
  params: { keys?: string[]; params?: { error?: string } };
}

function fieldErrors(part: string, issues: ZodIssueLike[]): FieldError[] {
  return issues.flatMap((issue) => {
    const path = issue.instancePath.split("/").filter(Boolean).join(".");
    if (issue.keyword === "unrecognized_keys" && issue.params.keys) {
      return issue.params.keys.map((key) => ({
        in: part,
        path: path ? `${path}.${key}` : key,
        message: "is not a known field",
      }));
    }
    return [{ in: part, path, message: issue.message ?? issue.keyword }];
  });
}

function describe(field: FieldError): string {
  const where = field.path ? `${field.in}.${field.path}` : field.in;
  return `${where} ${field.message.replace(/^[A-Z]/, (c) => c.toLowerCase())}`;
}

/** Maps everything a handler or Fastify can throw to one ApiError. */
function toApiError(err: FastifyError): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const part = PARTS[err.validationContext ?? "body"] ?? "body";
    const issues = err.validation as unknown as ZodIssueLike[];
    const fields = fieldErrors(part, issues);
    // A JSON field over its size limit makes the request too large, whatever else is wrong with it.
    const tooLarge = issues.find((issue) => issue.params.params?.error === TOO_LARGE);
    const first = tooLarge ? fieldErrors(part, [tooLarge])[0] : fields[0];
    const more = fields.length > 1 ? ` (and ${fields.length - 1} more)` : "";
    const message = first
      ? `${tooLarge ? "Too large" : "Invalid request"}: ${describe(first)}${more}.`
      : "Invalid request.";
    return new ApiError(tooLarge ? "payload_too_large" : "invalid_request", message, { fields });
  }
  if (err instanceof StorageUnavailableError) {
    return new ApiError("unavailable", "Storage is unreachable or failing; try again shortly.");
  }
  if (isDatabaseUnavailable(err)) {
    return new ApiError("unavailable", "The database is unreachable; try again shortly.");
  }
  const status = err.statusCode ?? 500;
  if (status === 413) {
    return new ApiError("payload_too_large", "The request body is larger than the 16 MiB limit.");
  }
  if (status === 415) {
    return new ApiError(
      "unsupported_media_type",
      "Send the request body as JSON, with Content-Type: application/json.",
    );
  }
  if (status >= 400 && status < 500 && !isResponseSerializationError(err)) {
    // Fastify's own refusals: malformed JSON, an empty JSON body, a bad Content-Length, ...
    return new ApiError("invalid_request", err.message.endsWith(".") ? err.message : `${err.message}.`);
  }
  return new ApiError("internal", "The server failed to handle this request; it has been logged.");
}

/**
 * What Fastify refuses before any route or hook runs (`frameworkErrors`): a path whose
 * percent-encoding is broken, or a path parameter past the router's maxParamLength.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const apiError =
    err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? new ApiError("invalid_request", "A path parameter is longer than any identifier of this API.", {
          fields: [{ in: "params", path: "", message: "is too long" }],
        })
      : err.code === "FST_ERR_BAD_URL"
        ? new ApiError("invalid_request", "The path is not valid: it has a malformed percent-encoding.", {
            fields: [{ in: "params", path: "", message: "is not valid percent-encoding" }],
          })
        : toApiError(err);
  if (apiError.status >= 500) request.log.error({ err }, "request failed");
  reply.header("x-request-id", request.id).code(apiError.status).send(errorBody(apiError, request.id));
}

export function errorBody(err: ApiError, requestId: string): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details && { details: err.details }),
      request_id: requestId,
    },
  };
}

/**
 * One error handler for the whole API: every non-2xx answer carries the error body of docs/api.md, and every
 * answer the request's id (as in the log lines of that request), so a user can quote it.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    // The client went away mid-request (an interrupted upload): nobody is left to answer, and it says
    // nothing about our database or storage. Its own connection tells: a request whose body was read
    // whole is `destroyed` too, and a database's ECONNRESET is not the client's.
    if (request.raw.aborted || (request.raw.socket?.destroyed && err.code === "ECONNRESET")) {
      request.log.info("the client closed the connection before the request was complete");
      return reply.code(499).send();
    }
    const apiError = toApiError(err);
    if (apiError.status >= 500) {
      // The route, not the URL: its query string may hold values that have no place in the log.
      const route = request.routeOptions.url;
      if (apiError.code === "unavailable") request.log.warn({ err, route }, apiError.message);
      else request.log.error({ err, route }, "request failed");
    }
    if (apiError.headers) reply.headers(apiError.headers);
    return reply.code(apiError.status).send(errorBody(apiError, request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0];
    const err = new ApiError("not_found", `There is no route ${request.method} ${path}.`);
    return reply.code(404).send(errorBody(err, request.id));
  });
});
