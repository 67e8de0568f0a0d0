import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What went through the proxy: body bytes of PUT requests, as they were passed on to storage. */
export interface ProxyCounts {
  /** Body bytes of every PUT forwarded, whole or cut off. */
  putBytes: number;
  /** PUT requests that storage answered. */
  putsCompleted: number;
  /** PUT requests that ended otherwise (the client went away mid-body, or storage failed). */
  putsCut: number;
}

/**
 * A plain HTTP reverse proxy in front of a storage endpoint (the Chronicle server's blob routes, or
 * an S3 server) that counts the PUT body bytes it forwards. The server under test is told to sign
 * URLs for the proxy (METHODIC_PUBLIC_URL or S3_PUBLIC_ENDPOINT), so every byte an uploader sends to
 * storage is counted here, including those of a request cut short by a killed process.
 */
export class CountingProxy {
  counts: ProxyCounts = { putBytes: 0, putsCompleted: 0, putsCut: 0 };
  /** PUT requests in progress now. */
  openPuts = 0;
  private readonly open = new Set<IncomingMessage>();
  private upstream: URL | undefined;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => this.forward(req, res));
  }

  /** Listens on 127.0.0.1; answers its URL. The upstream may be set later, before the first request. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Of the PUT requests in progress, those whose whole body has arrived (waiting for storage's answer). */
  get openPutsWhole(): number {
    let whole = 0;
    for (const req of this.open) if (req.complete) whole++;
    return whole;
  }

  setUpstream(url: string): void {
    this.upstream = new URL(url);
  }

  /** The counts so far, and zero from now on. */
  take(): ProxyCounts {
    const taken = this.counts;
    this.counts = { putBytes: 0, putsCompleted: 0, putsCut: 0 };
    return taken;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, res: import("node:http").ServerResponse): void {
    const upstream = this.upstream;
    if (!upstream) {
      res.writeHead(502).end("no upstream yet");
      return;
    }
    const isPut = req.method === "PUT";
    let settled = false;
    const settle = (completed: boolean) => {
      if (!isPut || settled) return;
      settled = true;
      this.openPuts--;
      this.open.delete(req);
      if (completed) this.counts.putsCompleted++;
      else this.counts.putsCut++;
    };
    if (isPut) {
      this.openPuts++;
      this.open.add(req);
    }
    // The Host header goes on as the client sent it: S3 (MinIO) checks the signature, which covers
    // it, and the URL was signed for the proxy's host.
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        // Storage has answered: the PUT is over, whether or not its client is still there to hear it.
        settle(true);
        if (res.destroyed) {
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => {
      settle(false);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.on("data", (chunk: Buffer) => {
      if (isPut) this.counts.putBytes += chunk.length;
    });
    // The client went away (killed). Mid-body, the upstream request is cut off too, as storage would
    // see a dropped connection. With the body whole, storage would have it all and finish the PUT
    // regardless: the upstream request is left to complete, only its answer has nowhere to go.
    res.on("close", () => {
      if (res.writableFinished) return;
      if (!req.complete) {
        settle(false);
        out.destroy();
      }
    });
    // Writing the answer to a client that is gone fails; that is expected here.
    res.on("error", () => {});
    req.pipe(out);
  }
}
