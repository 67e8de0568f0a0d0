import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type DatabaseDriver, type StorageDriver, spawnProcess } from "@methodic/server/testing";
import type { Checkpoint } from "../lib/checkpoint.js";
import { bundle, Child } from "../lib/children.js";
import { emptyBucket } from "../lib/s3.js";
import { checkBlobBytes, type HarnessServer, launchServer } from "../lib/server.js";
import { MiB, round } from "../lib/stats.js";
import { startUploader, uploaded, uploadTimeoutMs } from "../lib/uploader.js";
import type { LibStorageDone, LibStorageOptions } from "./lib-storage.js";
import type { Sample, Side } from "./report.js";

export interface CompareOptions {
  database: DatabaseDriver;
  rounds: number;
  partSize: number;
  concurrency: number;
  libStorageFiles: ("sequence" | "parallel")[];
  sync: "files" | "all";
}

type RunSide = (round: number) => Promise<{ seconds: number; createdAfter?: number }>;

/** Runs a command through sh, and answers how long it took; an exit other than 0 is an error. */
async function timeShell(command: string): Promise<number> {
  const started = performance.now();
  const shell = spawnProcess("sh", ["-c", command]);
  const { code } = await shell.exit;
  if (code !== 0) throw new Error(`\`${command}\` exited with ${code}:\n${shell.output()}`);
  return (performance.now() - started) / 1000;
}

/** Writes back whatever a side left dirty in the page cache, so that the next side does not pay for it. */
const settle = () => timeShell("sync");

/**
 * Every side on one storage driver, `rounds` times, on one fresh server: the SDK against lib-storage
 * (S3) or `cp -r` and an fsync (the local disk), the order rotating from round to round.
 */
export async function compare(
  options: CompareOptions,
  storage: StorageDriver,
  work: string,
  checkpoint: Checkpoint,
  log: (line: string) => void,
): Promise<Sample[]> {
  const { directory: source, totalBytes } = checkpoint;
  const [libStorageScript] = await bundle(import.meta.url, ["lib-storage.ts"]);
  let server: HarnessServer | undefined;
  const samples: Sample[] = [];
  try {
    server = await launchServer({
      launch: "harness",
      database: options.database,
      storage,
      partSize: options.partSize,
    });
    const { url, token, s3 } = server;
    const running = server;
    const experiment = `bench-upload-${storage}`;

    const sdk: RunSide = async (round) => {
      const before = await running.stats();
      const uploader = await startUploader(
        {
          url,
          token,
          experiment,
          variation: "upload",
          run: round,
          directory: source,
          concurrency: options.concurrency,
          partSize: options.partSize,
          mode: "upload",
        },
        "sdk",
      );
      const done = await uploaded(uploader, totalBytes).finally(() => uploader.stop());
      const { blobBytes } = await running.stats();
      checkBlobBytes(storage, blobBytes - before.blobBytes, totalBytes);
      if (s3) await emptyBucket(s3);
      return { seconds: done.seconds, ...(done.createdAfter !== null && { createdAfter: done.createdAfter }) };
    };
    const libStorage =
      (files: "sequence" | "parallel"): RunSide =>
      async (round) => {
        if (!s3) throw new Error("lib-storage needs S3");
        const libOptions: LibStorageOptions = {
          target: { ...s3 },
          prefix: `lib-storage/${round}-${files}`,
          directory: source,
          queueSize: options.concurrency,
          partSize: options.partSize,
          files,
        };
        const child = new Child("lib-storage", libStorageScript!, [JSON.stringify(libOptions)]);
        const done = await child.message<LibStorageDone>(uploadTimeoutMs(totalBytes)).finally(() => child.stop());
        if (done.bytes !== totalBytes) throw new Error(`lib-storage uploaded ${done.bytes} bytes, not ${totalBytes}`);
        await emptyBucket(s3);
        return { seconds: done.seconds };
      };
    const copy: RunSide = async () => {
      const target = join(work, "copy");
      // The server fsyncs each piece; the ceiling fsyncs each copied file (`sync FILE...`). A plain
      // `sync` (--sync all) also waits for whatever else on the machine wrote.
      const flush = options.sync === "all" ? "sync" : `find '${target}' -type f -exec sync -- {} +`;
      const seconds = await timeShell(`cp -r '${source}' '${target}' && ${flush}`);
      await rm(target, { recursive: true, force: true });
      return { seconds };
    };

    const sides: [Side, RunSide][] =
      storage === "s3"
        ? [
            ["sdk", sdk],
            ...options.libStorageFiles.map((files): [Side, RunSide] => [
              `lib-storage (files in ${files})`,
              libStorage(files),
            ]),
          ]
        : [
            ["sdk", sdk],
            ["cp -r && sync", copy],
          ];

    for (let r = 0; r < options.rounds; r++) {
      // Rotate who goes first, so that no side always follows the same one.
      const order = [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)];
      for (const [position, [side, run]] of order.entries()) {
        await settle();
        const result = await run(r);
        const mibPerSecond = totalBytes / MiB / result.seconds;
        log(
          `${storage} round ${r + 1}/${options.rounds}: ${side} ${round(result.seconds, 2)} s, ${round(mibPerSecond, 1)} MiB/s`,
        );
        samples.push({
          storage,
          side,
          round: r,
          order: position,
          seconds: round(result.seconds, 3),
          mibPerSecond: round(mibPerSecond, 1),
          ...(result.createdAfter !== undefined && { createdAfter: round(result.createdAfter, 3) }),
        });
      }
    }
    return samples;
  } finally {
    await server?.stop();
  }
}
