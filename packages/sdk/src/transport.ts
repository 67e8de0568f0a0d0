import { ErrorBody, type RouteDef } from "@methodic/contract";
import type { z } from "zod";
import { ChronicleError, errorFor, isTransient } from "./errors.js";

type Input<S> = S extends z.ZodType ? z.input<S> : never;
type Success<R extends RouteDef> = {
  [K in keyof R["responses"]]: K extends 200 | 201 ? z.output<R["responses"][K]> : never;
}[keyof R["responses"]];

export interface CallOptions<R extends RouteDef> {
  params?: Input<R["params"]>;
  query?: Input<R["query"]>;
  body?: Input<R["body"]>;
  headers?: Record<string, string>;
  /** Retry network failures, 5xx, 408 and 429 (for calls that are safe to repeat). */
  retry?: boolean;
}

export interface TransportOptions {
  baseUrl: string;
  token: string | undefined;
  /** Attempts for a retried call, the first included. */
  attempts?: number;
  fetch?: typeof fetch;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The REST API through the contract: paths and bodies from the route table, answers parsed by its
 * schemas, so that a server that drifts from the contract fails loudly here.
 */
export class Transport {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly attempts: number;
  private readonly fetch: typeof fetch;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
    this.attempts = options.attempts ?? 4;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  url<R extends RouteDef>(route: R, params: Record<string, unknown> = {}, query: Record<string, unknown> = {}): string {
    const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(params[name])));
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
    const qs = search.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
  }

  async call<R extends RouteDef>(route: R, options: CallOptions<R> = {}): Promise<Success<R>> {
    const attempts = options.retry ? this.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(route, options);
      } catch (err) {
        if (attempt >= attempts || !isTransient(err)) throw err;
        await sleep(Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      }
    }
  }

  private async once<R extends RouteDef>(route: R, options: CallOptions<R>): Promise<Success<R>> {
    const url = this.url(route, options.params as Record<string, unknown>, options.query as Record<string, unknown>);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetch(url, {
        method: route.method,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      });
    } catch (err) {
      throw new ChronicleError(
        0,
        "network_error",
        `Chronicle at ${this.baseUrl} did not answer: ${(err as Error).message}`,
      );
    }
    const text = await res.text();
    const json: unknown = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const parsed = ErrorBody.safeParse(json);
      if (parsed.success) {
        const { code, message, details } = parsed.data.error;
        throw errorFor(res.status, code, message, details);
      }
      throw errorFor(
        res.status,
        res.status >= 500 ? "unavailable" : "invalid_request",
        `HTTP ${res.status}: ${text.slice(0, 200)}`,
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
