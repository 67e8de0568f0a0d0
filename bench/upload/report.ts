import type { StorageDriver } from "@methodic/server/testing";
import { paragraphs } from "../lib/report.js";
import {
  figuresTable,
  groupBy,
  type Ratio,
  type RoundSample,
  ratioOf,
  ratioTable,
  roundsOf,
  summarizeSide,
} from "../lib/rounds.js";
import { formatBytes, median, round } from "../lib/stats.js";

/** How the lib-storage side walks the files, and whether its parts carry a SHA-256 checksum. */
export interface LibStorageVariant {
  files: "sequence" | "parallel";
  checksum: "none" | "sha256";
}

export const libStorageSide = (v: LibStorageVariant): string =>
  `lib-storage (files in ${v.files}${v.checksum === "sha256" ? ", SHA-256" : ""})`;

/** The side the S3 target is against: lib-storage as a user writes it, at the SDK's concurrency. */
const S3_TARGET_SIDE = libStorageSide({ files: "sequence", checksum: "none" });
const LOCAL_CEILING = "cp -r && sync";
const TARGETS: Record<string, number> = { [S3_TARGET_SIDE]: 0.9, [LOCAL_CEILING]: 0.7 };

export interface Sample extends RoundSample {
  storage: StorageDriver;
  /** SDK only: seconds until the asset existed (listing, hashing, create). */
  createdAfter?: number;
  /** lib-storage only: objects that S3 keeps a SHA-256 checksum of (none unless it sent them). */
  withSha256?: number;
}

export interface Summary {
  storage: StorageDriver;
  side: string;
  rounds: number;
  medianSeconds: number;
  medianMibPerSecond: number;
  /** SDK only: the median time until the asset existed (listing and hashing every file, the create call). */
  medianCreatedAfter?: number;
}

export interface UploadRatio extends Ratio {
  storage: StorageDriver;
  /** The side the SDK is compared with. */
  against: string;
}

export function summarize(samples: Sample[]): Summary[] {
  return groupBy(samples, (s) => `${s.storage}\u0000${s.side}`).map((of) => {
    const created = of.flatMap((s) => (s.createdAfter === undefined ? [] : [s.createdAfter]));
    return {
      storage: of[0]!.storage,
      side: of[0]!.side,
      ...summarizeSide(of),
      ...(created.length > 0 && { medianCreatedAfter: round(median(created), 3) }),
    };
  });
}

export function ratios(summaries: Summary[]): UploadRatio[] {
  return summaries.flatMap((other) => {
    const sdk = summaries.find((s) => s.storage === other.storage && s.side === "sdk");
    if (other.side === "sdk" || !sdk) return [];
    return [{ storage: other.storage, against: other.side, ...ratioOf(sdk, other, TARGETS[other.side] ?? null) }];
  });
}

export function formatReport(
  samples: Sample[],
  summaries: Summary[],
  found: UploadRatio[],
  totalBytes: number,
): string {
  const rounds = roundsOf(samples);
  const figures = figuresTable({
    rounds,
    leading: ["storage", "side"],
    trailing: ["SDK: asset created after"],
    rows: summaries.map((m) => ({
      leading: [m.storage, m.side],
      samples: samples.filter((s) => s.storage === m.storage && s.side === m.side),
      summary: m,
      trailing: [m.medianCreatedAfter === undefined ? "-" : `${m.medianCreatedAfter.toFixed(2)} s`],
    })),
  });
  const targets = ratioTable(
    ["storage", "SDK / side"],
    found.map((r) => ({ cells: [r.storage, `sdk / ${r.against}`], ratio: r })),
  );
  return paragraphs(
    `Upload of a ${formatBytes(totalBytes)} checkpoint directory (${rounds} round(s), alternating order)`,
    figures,
    "Targets (project issue)",
    targets,
  );
}
