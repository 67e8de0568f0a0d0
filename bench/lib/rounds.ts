// Comparisons of the upload and download benchmarks: every side run in turn, over several rounds,
// the order rotating, then medians and ratios of median throughputs.
import { spawnProcess } from "@methodic/server/testing";
import { markdownTable } from "./report.js";
import { MiB, median, round } from "./stats.js";

/** Runs a command through sh, and answers how long it took; an exit other than 0 is an error. */
export async function timeShell(command: string): Promise<number> {
  const started = performance.now();
  const shell = spawnProcess("sh", ["-c", command]);
  const { code } = await shell.exit;
  if (code !== 0) throw new Error(`\`${command}\` exited with ${code}:\n${shell.output()}`);
  return (performance.now() - started) / 1000;
}

/** One side's run in one round, timed by the side itself. */
export interface RoundSample<S extends string = string> {
  side: S;
  round: number;
  /** Position within the round (the order rotates from round to round). */
  order: number;
  seconds: number;
  mibPerSecond: number;
}

/** A side: what it is called, and one run of it (its result's `seconds` is what is timed). */
export type Side<S extends string, R extends { seconds: number }> = [S, (round: number) => Promise<R>];

/**
 * Every side `rounds` times, the first side of a round rotating so that no side always follows the
 * same one. Before each side, an untimed `sync` writes back what the one before left dirty in the
 * page cache, so that no side pays for another's writes. Answers each sample with its side's result.
 */
export async function alternate<S extends string, R extends { seconds: number }>(spec: {
  sides: Side<S, R>[];
  rounds: number;
  /** Bytes each run moves, for its throughput. */
  bytes: number;
  /** Names the comparison in the progress lines. */
  label: string;
  log: (line: string) => void;
}): Promise<(RoundSample<S> & { result: R })[]> {
  const { sides, rounds, bytes, label, log } = spec;
  const samples: (RoundSample<S> & { result: R })[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)];
    for (const [position, [side, run]] of order.entries()) {
      await timeShell("sync");
      const result = await run(r);
      const mibPerSecond = bytes / MiB / result.seconds;
      log(`${label} round ${r + 1}/${rounds}: ${side} ${round(result.seconds, 2)} s, ${round(mibPerSecond, 1)} MiB/s`);
      samples.push({
        side,
        round: r,
        order: position,
        seconds: round(result.seconds, 3),
        mibPerSecond: round(mibPerSecond, 1),
        result,
      });
    }
  }
  return samples;
}

export interface SideSummary {
  rounds: number;
  medianSeconds: number;
  medianMibPerSecond: number;
}

/** The medians of one side's samples. */
export const summarizeSide = (samples: RoundSample[]): SideSummary => ({
  rounds: samples.length,
  medianSeconds: round(median(samples.map((s) => s.seconds)), 3),
  medianMibPerSecond: round(median(samples.map((s) => s.mibPerSecond)), 1),
});

/** The samples grouped by `key` (a side, or a storage and a side), in the order first seen. */
export function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.values()];
}

export interface Ratio {
  /** median SDK throughput / median throughput of the other side. */
  ratio: number;
  /** The project issue's target for this ratio, if it sets one. */
  target: number | null;
  met: boolean | null;
}

export function ratioOf(sdk: SideSummary, other: SideSummary, target: number | null): Ratio {
  const ratio = round(sdk.medianMibPerSecond / other.medianMibPerSecond, 3);
  return { ratio, target, met: target === null ? null : ratio >= target };
}

/** How many rounds the samples span. */
export const roundsOf = (samples: RoundSample[]): number => Math.max(...samples.map((s) => s.round)) + 1;

/**
 * The figures of a comparison, a row per side: the cells that name it, each round's time ("-" where it
 * has no sample), its median time and throughput, then cells of the benchmark's own.
 */
export function figuresTable(spec: {
  rounds: number;
  leading: string[];
  trailing: string[];
  rows: { leading: string[]; samples: RoundSample[]; summary: SideSummary; trailing: string[] }[];
}): string {
  const rounds = Array.from({ length: spec.rounds }, (_, i) => i);
  return markdownTable(
    [...spec.leading, ...rounds.map((i) => `round ${i + 1}`), "median time", "median throughput", ...spec.trailing],
    spec.rows.map((row) => [
      ...row.leading,
      ...rounds.map((i) => {
        const sample = row.samples.find((s) => s.round === i);
        return sample ? `${sample.seconds.toFixed(2)} s` : "-";
      }),
      `${row.summary.medianSeconds.toFixed(2)} s`,
      `${row.summary.medianMibPerSecond.toFixed(1)} MiB/s`,
      ...row.trailing,
    ]),
  );
}

/** The targets table: one row per ratio, led by the cells that say what it compares. */
export const ratioTable = (leading: string[], rows: { cells: string[]; ratio: Ratio }[]): string =>
  markdownTable(
    [...leading, "ratio (median throughputs)", "target", "verdict"],
    rows.map(({ cells, ratio: r }) => [
      ...cells,
      r.ratio.toFixed(3),
      r.target === null ? "none (reference)" : `>= ${r.target}`,
      r.met === null ? "-" : r.met ? "met" : "MISSED",
    ]),
  );
