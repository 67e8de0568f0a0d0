import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";

/** What the proxy does with one request. */
export type Fault =
  /** Forward it and its answer. */
  | "pass"
  /** Answer 503 without forwarding it. */
  | "unavailable"
  /** Forward it, let the server act on it, then cut the connection before the answer is sent back. */
  | "drop-answer"
  /** Never answer (the connection stays open until the client gives up). */
  | "hang"
  /** Forward it, but hold the answer back for this many milliseconds. */
  | { delayMs: number };

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** When it came and when its answer was done with (or the connection closed). */
  started: number;
  ended?: number;
}

/**
 * An HTTP proxy in front of a real Chronicle server that misbehaves the way networks and overloaded
 * servers do, request by request, as `decide` says; it records every request and how many were in
 * flight at once.
 */
export class FaultyProxy {
  readonly seen: SeenRequest[] = [];
  private server: Server | undefined;
  url = "";

  constructor(
    private readonly target: string,
    private readonly decide: (req: Pick<SeenRequest, "method" | "path" | "headers">, index: number) => Fault,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (typeof address !== "object" || address === null) throw new Error("the proxy is not on TCP");
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  /** Requests whose method and path match. */
  matching(pattern: RegExp): SeenRequest[] {
    return this.seen.filter((r) => pattern.test(`${r.method} ${r.path}`));
  }

  count(pattern: RegExp): number {
    return this.matching(pattern).length;
  }

  /** The most matching requests that were ever in flight at once. */
  maxInFlight(pattern: RegExp): number {
    const events = this.matching(pattern).flatMap((r) => [
      { at: r.started, step: 1 },
      { at: r.ended ?? Number.POSITIVE_INFINITY, step: -1 },
    ]);
    events.sort((a, b) => a.at - b.at || a.step - b.step);
    let now = 0;
    let most = 0;
    for (const e of events) {
      now += e.step;
      most = Math.max(most, now);
    }
    return most;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const seen: SeenRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      started: Date.now(),
    };
    const fault = this.decide(seen, this.seen.length);
    this.seen.push(seen);
    res.on("close", () => {
      seen.ended = Date.now();
    });
    if (fault === "unavailable") {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "The proxy says no.", request_id: "proxy" } }));
      return;
    }
    if (fault === "hang") return;
    const upstream = request(`${this.target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => {
        if (fault === "drop-answer") {
          res.destroy();
          return;
        }
        const send = () => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        };
        if (typeof fault === "object") setTimeout(send, fault.delayMs);
        else send();
      });
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }
}
