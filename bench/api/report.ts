import type { DatabaseDriver } from "@methodic/server/testing";
import { markdownTable, paragraphs } from "../lib/report.js";
import { median, round } from "../lib/stats.js";
import type { LoadResult } from "./load.js";

export type Series = "pgbench" | "bare" | `${DatabaseDriver} heartbeat` | `${DatabaseDriver} cycle`;

/** One series' rounds, and their medians. */
export interface SeriesResult {
  series: Series;
  what: string;
  rounds: (LoadResult & { cyclesPerSecond?: number })[];
  median: { requestsPerSecond: number; cyclesPerSecond: number | null; p50: number; p99: number };
}

export function summarize(series: Series, what: string, rounds: SeriesResult["rounds"]): SeriesResult {
  const cycles = rounds.map((r) => r.cyclesPerSecond).filter((c): c is number => c !== undefined);
  return {
    series,
    what,
    rounds: rounds.map(roundAll),
    median: {
      requestsPerSecond: round(median(rounds.map((r) => r.requestsPerSecond)), 1),
      cyclesPerSecond: cycles.length > 0 ? round(median(cycles), 1) : null,
      p50: round(median(rounds.map((r) => r.p50)), 2),
      p99: round(median(rounds.map((r) => r.p99)), 2),
    },
  };
}

export interface Ratio {
  name: string;
  value: number;
}

/** Throughput ratios of each heartbeat series to its two ceilings. */
export function ratios(results: SeriesResult[]): Ratio[] {
  const rate = (s: Series) => results.find((r) => r.series === s)?.median.requestsPerSecond;
  const out: Ratio[] = [];
  for (const database of ["postgres", "pglite"] as const) {
    const beats = rate(`${database} heartbeat`);
    if (beats === undefined) continue;
    for (const ceiling of ["pgbench", "bare"] as const) {
      const base = rate(ceiling);
      if (base) out.push({ name: `${database} heartbeat / ${ceiling}`, value: round(beats / base, 3) });
    }
  }
  return out;
}

export const TARGET = { share: 0.4, p99: 25 };

export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

/** The target applies to heartbeats on PostgreSQL, measured against pgbench. */
export function verdicts(results: SeriesResult[]): Verdict[] {
  const beats = results.find((r) => r.series === "postgres heartbeat");
  const pgbench = results.find((r) => r.series === "pgbench");
  if (!beats || !pgbench) return [];
  const share = beats.median.requestsPerSecond / pgbench.median.requestsPerSecond;
  return [
    {
      target: `heartbeats/s >= ${TARGET.share * 100}% of pgbench's TPS`,
      measured: `${(share * 100).toFixed(1)}% (${beats.median.requestsPerSecond.toFixed(0)} / ${pgbench.median.requestsPerSecond.toFixed(0)})`,
      met: share >= TARGET.share,
    },
    {
      target: `heartbeat p99 <= ${TARGET.p99} ms`,
      measured: `${beats.median.p99.toFixed(2)} ms`,
      met: beats.median.p99 <= TARGET.p99,
    },
  ];
}

export function formatReport(results: SeriesResult[], connections: number, seconds: number): string {
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const figures = markdownTable(
    ["series", "what", "requests/s", "cycles/s", "p50", "p99", "rounds (requests/s)"],
    results.map((r) => [
      r.series,
      r.what,
      r.median.requestsPerSecond.toFixed(0),
      r.median.cyclesPerSecond === null ? "-" : r.median.cyclesPerSecond.toFixed(0),
      ms(r.median.p50),
      ms(r.median.p99),
      r.rounds.map((x) => x.requestsPerSecond.toFixed(0)).join(", "),
    ]),
  );
  const ratioTable = markdownTable(
    ["ratio (median requests/s)", "value"],
    ratios(results).map((r) => [r.name, r.value.toFixed(3)]),
  );
  const judged = verdicts(results);
  const targets =
    judged.length === 0
      ? "Not judged: the target is for heartbeats on PostgreSQL against pgbench, and this run has not both."
      : markdownTable(
          ["target", "measured", "verdict"],
          judged.map((v) => [v.target, v.measured, v.met ? "met" : "MISSED"]),
        );
  return paragraphs(
    `API throughput and latency: ${connections} connections, each on a run of its own, ${seconds} s per round; medians of the rounds`,
    figures,
    ratioTable,
    "Target (project issue; PostgreSQL)",
    targets,
  );
}

const roundAll = <T extends LoadResult>(r: T): T => ({
  ...r,
  requestsPerSecond: round(r.requestsPerSecond, 1),
  p50: round(r.p50, 3),
  p99: round(r.p99, 3),
  max: round(r.max, 3),
  ...("cyclesPerSecond" in r && { cyclesPerSecond: round(r.cyclesPerSecond as number, 1) }),
});
