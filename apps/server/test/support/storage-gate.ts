import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";

export interface GatedRequest {
  method: string;
  url: string;
  /** Kept back by the gate rather than forwarded. */
  held: boolean;
  /** Forwarded, and storage's answer sent back whole. */
  answered: boolean;
}

/**
 * An HTTP proxy between a server and its S3 storage (its S3_ENDPOINT) that forwards every request
 * as it is (the Host header the signatures cover included) and records it, except those `hold`
 * picks: they are kept back, unanswered, until the server gives up on them (or dies). So a test can
 * stop a server in the middle of its storage calls at a point of its choosing, with no race.
 */
export class StorageGate {
  readonly requests: GatedRequest[] = [];
  private holding: ((req: GatedRequest, seen: GatedRequest[]) => boolean) | undefined;
  private server: Server | undefined;
  url = "";

  constructor(private readonly target: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (typeof address !== "object" || address === null) throw new Error("the gate is not on TCP");
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  /** From now on, requests for which `pick` is true (given those seen before) are held; undefined holds none. */
  hold(pick: ((req: GatedRequest, seen: GatedRequest[]) => boolean) | undefined): void {
    this.holding = pick;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const seen: GatedRequest = { method: req.method ?? "", url: req.url ?? "", held: false, answered: false };
    seen.held = this.holding?.(seen, this.requests) ?? false;
    this.requests.push(seen);
    if (seen.held) {
      req.resume();
      return;
    }
    const target = new URL(this.target);
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    res.on("finish", () => {
      seen.answered = true;
    });
    upstream.on("error", () => res.destroy());
    req.on("error", () => upstream.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }
}
