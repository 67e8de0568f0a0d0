// The load: a sequential HTTP client in a process of its own (one keep-alive connection, one request
// at a time, so that each latency is the server's answer time plus loopback, with no queueing). It
// cycles through the routes, a random variation each request, and reports latency percentiles per route.
import { Agent, request } from "node:http";
import { tell } from "../lib/child.js";
import { seededRandom } from "../lib/random.js";
import { percentile, round } from "../lib/stats.js";

export interface LoadRoute {
  name: string;
  /** The path, with `{var}` for the variation. */
  path: string;
}

export interface LoadOptions {
  url: string;
  token: string;
  routes: LoadRoute[];
  variations: string[];
  /** Measured requests per route. */
  requests: number;
  /** Unmeasured requests per route first. */
  warmup: number;
  seed: number;
}

export interface RouteLatency {
  name: string;
  path: string;
  requests: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Mean body size, bytes. */
  bodyBytes: number;
  /** Answers whose first item (or asset) was null: none expected. */
  empty: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as LoadOptions;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const base = new URL(options.url);

function get(path: string): Promise<{ ms: number; status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      { agent, host: base.hostname, port: base.port, path, headers: { authorization: `Bearer ${options.token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** True when the answer carries what was asked for: an asset, or a first item. */
function nonEmpty(body: Buffer): boolean {
  const json = JSON.parse(body.toString("utf8")) as { asset?: unknown; items?: unknown[] };
  if ("asset" in json) return json.asset !== null;
  return json.items === undefined || json.items.length > 0;
}

async function main(): Promise<void> {
  const random = seededRandom(options.seed);
  const pick = () => options.variations[Math.floor(random() * options.variations.length)]!;
  const samples = options.routes.map(() => ({ ms: [] as number[], bytes: 0, empty: 0 }));
  // Round-robin over the routes, so that every route sees the same machine over time.
  for (let i = 0; i < options.warmup + options.requests; i++) {
    for (const [r, route] of options.routes.entries()) {
      const path = route.path.replace("{var}", encodeURIComponent(pick()));
      const answer = await get(path);
      if (answer.status !== 200) {
        throw new Error(`GET ${path}: ${answer.status} ${answer.body.toString("utf8").slice(0, 300)}`);
      }
      if (i < options.warmup) continue;
      const s = samples[r]!;
      s.ms.push(answer.ms);
      s.bytes += answer.body.length;
      if (!nonEmpty(answer.body)) s.empty++;
    }
  }
  const results: RouteLatency[] = options.routes.map((route, r) => {
    const s = samples[r]!;
    const sorted = [...s.ms].sort((a, b) => a - b);
    return {
      name: route.name,
      path: route.path,
      requests: sorted.length,
      p50: round(percentile(sorted, 50), 3),
      p90: round(percentile(sorted, 90), 3),
      p99: round(percentile(sorted, 99), 3),
      max: round(sorted.at(-1) ?? Number.NaN, 3),
      mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 3),
      bodyBytes: Math.round(s.bytes / sorted.length),
      empty: s.empty,
    };
  });
  tell({ results });
  agent.destroy();
}

try {
  await main();
} catch (err) {
  tell({ error: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
}
