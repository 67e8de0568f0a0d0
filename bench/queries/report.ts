import type { DatabaseDriver } from "@methodic/server/testing";
import { markdownTable, paragraphs } from "../lib/report.js";
import type { RouteLatency } from "./load.js";
import type { Plan } from "./plans.js";
import type { DataSet, Scale } from "./seed.js";

/** The project issue's target: p99 of outputs/latest at most 10 ms. */
export const LATEST_P99_TARGET_MS = 10;

export interface Measurement {
  database: DatabaseDriver;
  scale: Scale;
  seed: DataSet["seed"];
  sizes: DataSet["sizes"];
  counts: DataSet["counts"];
  routes: RouteLatency[];
  plans: Plan[];
}

/** The target's verdict for each database. */
export function verdicts(
  results: Measurement[],
): { target: string; database: DatabaseDriver; value: number; met: boolean }[] {
  return results.map((m) => {
    const p99 = m.routes.find((r) => r.name === "latest")?.p99 ?? Number.NaN;
    return {
      target: "outputs/latest p99 <= 10 ms",
      database: m.database,
      value: p99,
      met: p99 <= LATEST_P99_TARGET_MS,
    };
  });
}

export function formatReport(results: Measurement[], requests: number): string {
  const latency = markdownTable(
    ["database", "route", "requests", "p50", "p90", "p99", "max", "mean", "body"],
    results.flatMap((m) =>
      m.routes.map((r) => [
        m.database,
        r.name,
        String(r.requests),
        `${r.p50.toFixed(2)} ms`,
        `${r.p90.toFixed(2)} ms`,
        `${r.p99.toFixed(2)} ms`,
        `${r.max.toFixed(2)} ms`,
        `${r.mean.toFixed(2)} ms`,
        `${(r.bodyBytes / 1024).toFixed(1)} KiB`,
      ]),
    ),
  );
  const seeding = markdownTable(
    ["database", "assets", "runs", "variations", "seed time (per statement)", "runs table", "assets table"],
    results.map((m) => [
      m.database,
      String(m.counts.assets),
      String(m.counts.runs),
      String(m.counts.variations),
      `${m.seed.seconds.toFixed(1)} s (${m.seed.statements
        .filter((s) => !s.what.startsWith("set"))
        .map((s) => `${s.what.replace("insert into ", "")} ${s.seconds.toFixed(1)} s`)
        .join(", ")})`,
      m.sizes.runs ?? "-",
      m.sizes.assets ?? "-",
    ]),
  );
  const targets = markdownTable(
    ["target", "database", "measured", "verdict"],
    verdicts(results).map((v) => [v.target, v.database, `${v.value.toFixed(2)} ms`, v.met ? "met" : "MISSED"]),
  );
  const plans = results.flatMap((m) =>
    m.plans.map((p) =>
      paragraphs(`EXPLAIN (ANALYZE, BUFFERS) on ${m.database}: ${p.route}`, `\`\`\`\n${p.plan}\n\`\`\``),
    ),
  );
  return paragraphs(
    `Latency through the API (sequential client, one keep-alive connection; ${requests} requests per route, random variations, routes interleaved)`,
    latency,
    "Data set",
    seeding,
    "Targets (project issue)",
    targets,
    ...plans,
  );
}
