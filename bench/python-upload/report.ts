import { markdownTable, paragraphs } from "../lib/report.js";
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

const CLIENT = "python client";
/** The issue's target: the client at least 0.9x boto3's upload_file at its part size and concurrency. */
const TARGETS: Record<string, number> = { "boto3 upload_file (matched)": 0.9 };

export interface Sample extends RoundSample {
  /** The client only: seconds until the asset existed (listing, hashing every file, the create). */
  createdAfter?: number;
  peakRssBytes?: number;
}

export interface Summary extends SideSummary {
  side: string;
  medianCreatedAfter?: number;
}

export interface UploadRatio extends Ratio {
  against: string;
}

export interface RssResult {
  fileBytes: number;
  seconds: number;
  /** After the run started, before the upload. */
  idleRssBytes: number;
  /** VmHWM at the end: the most the process ever held. */
  peakRssBytes: number;
  targetBytes: number;
  met: boolean;
}

export function summarize(samples: Sample[]): Summary[] {
  return groupBy(samples, (s) => s.side).map((of) => {
    const created = of.flatMap((s) => (s.createdAfter === undefined ? [] : [s.createdAfter]));
    return {
      side: of[0]!.side,
      ...summarizeSide(of),
      ...(created.length > 0 && { medianCreatedAfter: round(median(created), 3) }),
    };
  });
}

export function ratios(summaries: Summary[]): UploadRatio[] {
  const client = summaries.find((s) => s.side === CLIENT);
  if (!client) return [];
  return summaries
    .filter((s) => s.side !== CLIENT)
    .map((other) => ({ against: other.side, ...ratioOf(client, other, TARGETS[other.side] ?? null) }));
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export function formatReport(
  samples: Sample[],
  summaries: Summary[],
  found: UploadRatio[],
  totalBytes: number,
  rss: RssResult,
  load: { before: number[]; after: number[] },
): string {
  const rounds = roundsOf(samples);
  const figures = figuresTable({
    rounds,
    leading: ["side"],
    trailing: ["client: asset created after"],
    rows: summaries.map((m) => ({
      leading: [m.side],
      samples: samples.filter((s) => s.side === m.side),
      summary: m,
      trailing: [m.medianCreatedAfter === undefined ? "-" : `${m.medianCreatedAfter.toFixed(2)} s`],
    })),
  });
  const targets = ratioTable(
    ["client / side"],
    found.map((r) => ({ cells: [`python client / ${r.against}`], ratio: r })),
  );
  const memory = markdownTable(
    ["file", "upload time", "idle RSS", "peak RSS (VmHWM)", "target", "verdict"],
    [
      [
        formatBytes(rss.fileBytes),
        `${rss.seconds.toFixed(2)} s`,
        mb(rss.idleRssBytes),
        mb(rss.peakRssBytes),
        `<= ${mb(rss.targetBytes)}`,
        rss.met ? "met" : "MISSED",
      ],
    ],
  );
  return paragraphs(
    `Python client upload of a ${formatBytes(totalBytes)} checkpoint directory to MinIO (${rounds} round(s), alternating order; load average before ${load.before.join(" / ")}, after ${load.after.join(" / ")})`,
    figures,
    "Targets (issue 15)",
    targets,
    "The Python client's memory, one large file",
    memory,
  );
}
