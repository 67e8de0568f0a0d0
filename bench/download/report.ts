import { paragraphs } from "../lib/report.js";
import {
  figuresTable,
  groupBy,
  type Ratio,
  type RoundSample,
  ratioOf,
  ratioTable,
  roundsOf,
  type SideSummary,
  summarizeSide,
} from "../lib/rounds.js";
import { formatBytes, median, round } from "../lib/stats.js";

export interface Sample extends RoundSample {
  /** MiB MinIO read from the disk itself during the side (the rest came from the page cache). */
  storageDiskReadMiB: number;
  /** CPU over the side: the side's own process, and MinIO's. */
  cpuSeconds: { client: number; minio: number };
}

export interface Summary extends SideSummary {
  side: string;
  medianStorageDiskReadMiB: number;
  medianCpuSeconds: { client: number; minio: number };
}

/** The project issue's target: the SDK's verified download at least 0.8x the plain ranged GETs. */
const TARGET = 0.8;

export function summarize(samples: Sample[]): Summary[] {
  return groupBy(samples, (s) => s.side).map((of) => ({
    side: of[0]!.side,
    ...summarizeSide(of),
    medianStorageDiskReadMiB: round(median(of.map((s) => s.storageDiskReadMiB)), 1),
    medianCpuSeconds: {
      client: round(median(of.map((s) => s.cpuSeconds.client)), 2),
      minio: round(median(of.map((s) => s.cpuSeconds.minio)), 2),
    },
  }));
}

export function ratios(summaries: Summary[]): (Ratio & { against: string })[] {
  const sdk = summaries.find((s) => s.side === "sdk");
  return summaries.flatMap((other) =>
    other.side === "sdk" || !sdk ? [] : [{ against: other.side, ...ratioOf(sdk, other, TARGET) }],
  );
}

export function formatReport(
  samples: Sample[],
  summaries: Summary[],
  found: (Ratio & { against: string })[],
  totalBytes: number,
): string {
  const rounds = roundsOf(samples);
  const figures = figuresTable({
    rounds,
    leading: ["side"],
    trailing: ["CPU: client / MinIO (medians)", "MinIO read from disk (median)"],
    rows: summaries.map((m) => ({
      leading: [m.side],
      samples: samples.filter((s) => s.side === m.side),
      summary: m,
      trailing: [
        `${m.medianCpuSeconds.client.toFixed(2)} s / ${m.medianCpuSeconds.minio.toFixed(2)} s`,
        `${m.medianStorageDiskReadMiB.toFixed(1)} MiB`,
      ],
    })),
  });
  const targets = ratioTable(
    ["SDK / side"],
    found.map((r) => ({ cells: [`sdk / ${r.against}`], ratio: r })),
  );
  return paragraphs(
    `Download of a ${formatBytes(totalBytes)} checkpoint asset from MinIO (${rounds} round(s), alternating order)`,
    figures,
    "Target (project issue)",
    targets,
  );
}
