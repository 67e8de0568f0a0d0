import { randomUUID } from "node:crypto";
import { ErrorBody, type RouteDef } from "@methodic/contract";
import type { z } from "zod";
import { ChronicleError, errorFor, UnavailableError } from "./errors.js";
import { ATTEMPTS, withRetries } from "./retry.js";

type Input<S> = S extends z.ZodType ? z.input<S> : never;
type Success<R extends RouteDef> = {
  [K in keyof R["responses"]]: K extends 200 | 201 ? z.output<R["responses"][K]> : never;
}[keyof R["responses"]];

export interface CallOptions<R extends RouteDef> {
  params?: Input<R["params"]>;
  query?: Input<R["query"]>;
  body?: Input<R["body"]>;
  headers?: Record<string, string>;
  /**
   * Whether to retry network failures, timeouts, 5xx and 429. By default, every call the contract
   * says is safe to repeat is retried (GET, PUT, DELETE, and the POSTs it marks idempotent).
   */
  retry?: boolean;
}

export interface TransportOptions {
  baseUrl: string;
  token: string | undefined;
  /** Attempts for a retried call, the first included. */
  attempts?: number;
  /** Per attempt: a request unanswered for this long is abandoned (and retried if it may be). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Long enough for a finalize that completes many multipart uploads; a hung connection is given up. */
const TIMEOUT_MS = 60_000;

/**
 * The REST API through the contract: paths and bodies from the route table, answers parsed by its
 * schemas, so that a server that drifts from the contract fails loudly here.
 */
export class Transport {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
    this.attempts = options.attempts ?? ATTEMPTS;
    this.timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  url<R extends RouteDef>(route: R, params: Record<string, unknown> = {}, query: Record<string, unknown> = {}): string {
    const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(params[name])));
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
    const qs = search.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
  }

  call<R extends RouteDef>(route: R, options: CallOptions<R> = {}): Promise<Success<R>> {
    let headers = options.headers;
    // A create the contract makes safe by a key gets one, the same for every attempt.
    if (route.idempotent === "with-key" && !headers?.["idempotency-key"]) {
      headers = { ...headers, "idempotency-key": randomUUID() };
    }
    const retry = options.retry ?? route.idempotent !== false;
    return withRetries(() => this.once(route, { ...options, ...(headers && { headers }) }), {
      attempts: retry ? this.attempts : 1,
    });
  }

  private async once<R extends RouteDef>(route: R, options: CallOptions<R>): Promise<Success<R>> {
    const url = this.url(route, options.params as Record<string, unknown>, options.query as Record<string, unknown>);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    let text: string;
    try {
      const signal = AbortSignal.timeout(this.timeoutMs);
      res = await this.fetch(url, {
        method: route.method,
        headers,
        signal,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      });
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === "TimeoutError";
      throw new UnavailableError(
        0,
        "network_error",
        timedOut
          ? `Chronicle at ${this.baseUrl} did not answer ${route.method} ${route.path} within ${this.timeoutMs / 1000} s.`
          : `Chronicle at ${this.baseUrl} did not answer: ${(err as Error).message}`,
      );
    }
    const json: unknown = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const parsed = ErrorBody.safeParse(json);
      if (parsed.success) {
        const { code, message, details, request_id } = parsed.data.error;
        throw errorFor(res.status, code, message, details, request_id);
      }
      throw errorFor(
        res.status,
        res.status >= 500 ? "unavailable" : "invalid_request",
        `HTTP ${res.status}: ${text.slice(0, 200)}`,
        undefined,
        res.headers.get("x-request-id") ?? undefined,
      );
    }
    const schema = route.responses[res.status];
    if (!schema || res.status === 204) return undefined as Success<R>;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ChronicleError(
        res.status,
        "internal",
        `The answer of ${route.method} ${route.path} does not match the contract: ${parsed.error.message}`,
      );
    }
    return parsed.data as Success<R>;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
