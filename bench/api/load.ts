// The load: autocannon in this (the bench's) process, one connection per run, every response timed
// to the microsecond (autocannon's own histogram keeps whole milliseconds, too coarse for a p50 of 2 ms).
import autocannon, { type Options, type Request } from "autocannon";
import { percentile } from "../lib/stats.js";

/** One load's figures; latency in milliseconds over every response. */
export interface LoadResult {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export async function load(options: Options): Promise<LoadResult> {
  const latencies: number[] = [];
  const instance = autocannon({ pipelining: 1, timeout: 10, ...options });
  instance.on("response", (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  const result = await instance;
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    const codes = Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${count} × ${code}`)
      .join(", ");
    throw new Error(
      `the load saw ${result.errors} errors, ${result.timeouts} timeouts and ${result.non2xx} non-2xx answers (${codes})`,
    );
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    seconds: result.duration,
    requests: sorted.length,
    requestsPerSecond: sorted.length / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export interface Target {
  url: string;
  token: string;
  experiment: string;
}

const runPath = (t: Target, variation: string, run: number) =>
  `/v1/experiments/${t.experiment}/variations/${variation}/runs/${run}`;

/** Heartbeats: connection i beats run i of `variation` over and over. */
export function heartbeats(t: Target, variation: string, connections: number, seconds: number) {
  return load({
    url: Array.from({ length: connections }, (_, i) => `${t.url}${runPath(t, variation, i)}/heartbeat`),
    connections,
    duration: seconds,
    method: "POST",
    headers: { authorization: `Bearer ${t.token}` },
  });
}

const SUCCEED_BODY = JSON.stringify({ summary: { loss: 0.0123, steps: 5000 } });

/**
 * Lifecycles: connection i works through runs of a variation of its own (`${prefix}-${i}`), each one
 * started, heartbeaten once and succeeded. `next` holds each variation's next run index, across calls.
 */
export async function cycles(
  t: Target,
  prefix: string,
  connections: number,
  seconds: number,
  next: Map<string, number>,
): Promise<LoadResult & { cyclesPerSecond: number }> {
  const auth = { authorization: `Bearer ${t.token}` };
  // Each connection's URL names its variation; the steps below rewrite the path to the run at hand.
  const variationOf = (request: Request) => /\/variations\/([^/]+)\//.exec(request.path ?? "")?.[1] ?? "";
  const step = (action: string, body?: string) => ({
    method: "POST",
    headers: body ? { ...auth, "content-type": "application/json" } : auth,
    ...(body && { body }),
    setupRequest: (request: Request, context: Record<string, unknown>) => {
      const variation = variationOf(request);
      if (action === "start") {
        const run = next.get(variation) ?? 0;
        next.set(variation, run + 1);
        context.run = run;
      }
      return { ...request, path: `${runPath(t, variation, context.run as number)}/${action}` };
    },
  });
  const result = await load({
    url: Array.from({ length: connections }, (_, i) => `${t.url}${runPath(t, `${prefix}-${i}`, 0)}/start`),
    connections,
    duration: seconds,
    requests: [step("start"), step("heartbeat"), step("succeed", SUCCEED_BODY)],
  });
  return { ...result, cyclesPerSecond: result.requestsPerSecond / 3 };
}

/** The bare-Fastify ceiling, loaded exactly as the heartbeats are. */
export function bare(url: string, connections: number, seconds: number): Promise<LoadResult> {
  return heartbeats({ url, token: "bare-has-no-auth", experiment: "bench" }, "heartbeat", connections, seconds);
}
