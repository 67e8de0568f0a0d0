import type { StorageDriver } from "@methodic/server/testing";
import { markdownTable, paragraphs } from "../lib/report.js";
import { formatBytes, median } from "../lib/stats.js";

export interface Repetition {
  storage: StorageDriver;
  repetition: number;
  /** When the first process was killed, in seconds after its asset existed. */
  killedAfter: number;
  /** ... as a share of the calibrated upload time. */
  killedAt: number;
  /** PUT requests open at the proxy when the kill came. */
  putsInFlight: number;
  /** ... of which storage had the whole body already (waiting for its answer). */
  putsWholeAtKill: number;
  /** Bytes the killed process had sent to storage. */
  firstBytes: number;
  /** Bytes the resuming process sent. */
  resumeBytes: number;
  /** firstBytes + resumeBytes - the checkpoint's size. */
  sentTwice: number;
  resumeSeconds: number;
  /** Tries that ended before their kill came (drawn again). */
  finishedBeforeKill: number;
}

export interface Calibration {
  storage: StorageDriver;
  /** From the asset's creation to done, of an upload left alone: the window the kills are drawn in. */
  seconds: number;
  /** Bytes it sent to storage: the checkpoint's size, once. */
  bytes: number;
}

export function formatReport(
  repetitions: Repetition[],
  bound: number,
  totalBytes: number,
  calibrations: Calibration[],
): string {
  const perRepetition = markdownTable(
    [
      "storage",
      "#",
      "killed after",
      "PUTs open (body whole)",
      "sent before kill",
      "sent by resume",
      "sent twice",
      "resume took",
    ],
    repetitions.map((r) => [
      r.storage,
      String(r.repetition),
      `${r.killedAfter.toFixed(2)} s (${Math.round(r.killedAt * 100)}%)`,
      `${r.putsInFlight} (${r.putsWholeAtKill})`,
      formatBytes(r.firstBytes),
      formatBytes(r.resumeBytes),
      formatBytes(r.sentTwice),
      `${r.resumeSeconds.toFixed(2)} s`,
    ]),
  );
  const storages = [...new Set(repetitions.map((r) => r.storage))];
  const summary = markdownTable(
    [
      "storage",
      "uninterrupted upload",
      "repetitions",
      "median sent twice",
      "max sent twice",
      "bound (8 x part size)",
      "verdict",
    ],
    storages.map((storage) => {
      const of = repetitions.filter((r) => r.storage === storage);
      const calibration = calibrations.find((c) => c.storage === storage);
      const max = Math.max(...of.map((r) => r.sentTwice));
      return [
        storage,
        calibration ? `${calibration.seconds.toFixed(2)} s, ${formatBytes(calibration.bytes)} sent` : "-",
        String(of.length),
        formatBytes(median(of.map((r) => r.sentTwice))),
        formatBytes(max),
        formatBytes(bound),
        max <= bound ? "met" : "MISSED",
      ];
    }),
  );
  return paragraphs(
    `Resume waste: a ${formatBytes(totalBytes)} checkpoint upload killed (SIGKILL) at a random time, then resumed`,
    perRepetition,
    "Target (project issue): never more than the pieces in flight",
    summary,
  );
}
