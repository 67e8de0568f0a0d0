import type { StorageDriver } from "@methodic/server/testing";
import { markdownTable, paragraphs } from "../lib/report.js";
import { formatBytes, median, round } from "../lib/stats.js";

export type Side = "sdk" | "lib-storage (files in sequence)" | "lib-storage (files in parallel)" | "cp -r && sync";

export interface Sample {
  storage: StorageDriver;
  side: Side;
  round: number;
  /** Position within the round (the order alternates from round to round). */
  order: number;
  seconds: number;
  mibPerSecond: number;
  /** SDK only: seconds until the asset existed (listing, hashing, create). */
  createdAfter?: number;
}

export interface Summary {
  storage: StorageDriver;
  side: Side;
  rounds: number;
  medianSeconds: number;
  medianMibPerSecond: number;
  /** SDK only: the median time until the asset existed (listing and hashing every file, the create call). */
  medianCreatedAfter?: number;
}

export interface Ratio {
  storage: StorageDriver;
  /** median SDK throughput / median throughput of `against`. */
  against: Side;
  ratio: number;
  /** The project issue's target for this ratio, if it sets one. */
  target: number | null;
  met: boolean | null;
}

export function summarize(samples: Sample[]): Summary[] {
  const keys = [...new Set(samples.map((s) => `${s.storage}\u0000${s.side}`))];
  return keys.map((key) => {
    const of = samples.filter((s) => `${s.storage}\u0000${s.side}` === key);
    const first = of[0]!;
    const created = of.flatMap((s) => (s.createdAfter === undefined ? [] : [s.createdAfter]));
    return {
      storage: first.storage,
      side: first.side,
      rounds: of.length,
      medianSeconds: round(median(of.map((s) => s.seconds)), 3),
      medianMibPerSecond: round(median(of.map((s) => s.mibPerSecond)), 1),
      ...(created.length > 0 && { medianCreatedAfter: round(median(created), 3) }),
    };
  });
}

const TARGETS: Partial<Record<Side, number>> = { "lib-storage (files in sequence)": 0.9, "cp -r && sync": 0.7 };

export function ratios(summaries: Summary[]): Ratio[] {
  return summaries.flatMap((other) => {
    if (other.side === "sdk") return [];
    const sdk = summaries.find((s) => s.storage === other.storage && s.side === "sdk");
    if (!sdk) return [];
    const ratio = round(sdk.medianMibPerSecond / other.medianMibPerSecond, 3);
    const target = TARGETS[other.side] ?? null;
    return [
      { storage: other.storage, against: other.side, ratio, target, met: target === null ? null : ratio >= target },
    ];
  });
}

export function formatReport(samples: Sample[], summaries: Summary[], found: Ratio[], totalBytes: number): string {
  const rounds = Math.max(...samples.map((s) => s.round)) + 1;
  const figures = markdownTable(
    [
      "storage",
      "side",
      ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`),
      "median time",
      "median throughput",
      "SDK: asset created after",
    ],
    summaries.map((m) => [
      m.storage,
      m.side,
      ...Array.from({ length: rounds }, (_, i) => {
        const sample = samples.find((s) => s.storage === m.storage && s.side === m.side && s.round === i);
        return sample ? `${sample.seconds.toFixed(2)} s` : "-";
      }),
      `${m.medianSeconds.toFixed(2)} s`,
      `${m.medianMibPerSecond.toFixed(1)} MiB/s`,
      m.medianCreatedAfter === undefined ? "-" : `${m.medianCreatedAfter.toFixed(2)} s`,
    ]),
  );
  const targets = markdownTable(
    ["storage", "SDK / side", "ratio (median throughputs)", "target", "verdict"],
    found.map((r) => [
      r.storage,
      `sdk / ${r.against}`,
      r.ratio.toFixed(3),
      r.target === null ? "none (reference)" : `>= ${r.target}`,
      r.met === null ? "-" : r.met ? "met" : "MISSED",
    ]),
  );
  return paragraphs(
    `Upload of a ${formatBytes(totalBytes)} checkpoint directory (${rounds} round(s), alternating order)`,
    figures,
    "Targets (project issue)",
    targets,
  );
}
