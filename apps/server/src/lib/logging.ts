import type { FastifyRequest } from "fastify";

/**
 * What the log keeps of a request: its method, its path without the query string, the route it
 * matched and the client's address. A query string may hold a credential (a signed URL's `sig`, a
 * `token` a client put there by mistake) or a user's values, so no request's is ever logged.
 */
function requestRecord(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url.split("?")[0],
    route: request.routeOptions?.url,
    host: request.host,
    remoteAddress: request.ip,
  };
}

/**
 * Fields of errors that hold the values of a query rather than what went wrong: drizzle's `params`,
 * PostgreSQL's `detail` ("Key (secret_hash)=(...) already exists", "Failing row contains (...)").
 */
const VALUE_FIELDS = new Set(["params", "parameters", "detail", "$response"]);

/** Drizzle puts a failed query's parameters into its message: "Failed query: <sql>\nparams: <values>". */
const withoutParams = (message: string) => message.replace(/\nparams: [\s\S]*$/, "");

const MAX_CAUSES = 8;

/** An error as the log keeps it: type, message and stack, its code and other plain fields, its causes. */
export function errorRecord(err: unknown, depth = 0): { type: string; message: string; stack: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err), stack: "" };
  const message = withoutParams(err.message);
  const record: { type: string; message: string; stack: string; [key: string]: unknown } = {
    type: err.constructor?.name ?? err.name,
    message,
    stack: err.stack?.replace(err.message, () => message) ?? "",
  };
  for (const [key, value] of Object.entries(err)) {
    if (VALUE_FIELDS.has(key) || key === "cause" || key === "errors" || key === "message" || key === "stack") continue;
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) record[key] = value;
  }
  if (depth < MAX_CAUSES) {
    if (err.cause !== undefined) record.cause = errorRecord(err.cause, depth + 1);
    if (err instanceof AggregateError) record.errors = err.errors.map((e: unknown) => errorRecord(e, depth + 1));
  }
  return record;
}

export const logSerializers = { req: requestRecord, err: errorRecord };

/** Belt and braces: fields that would be secrets wherever a log line names them. */
export const logRedact = {
  paths: [
    "req.headers.authorization",
    "req.headers.cookie",
    ...["token", "secret", "secretHash", "secret_hash", "authorization"].flatMap((key) => [key, `*.${key}`]),
  ],
  censor: "[redacted]",
};
