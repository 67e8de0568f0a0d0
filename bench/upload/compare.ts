import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import type { Checkpoint } from "../lib/checkpoint.js";
import { bundle, Child } from "../lib/children.js";
import { alternate, type Side, timeShell } from "../lib/rounds.js";
import { emptyBucket } from "../lib/s3.js";
import { checkBlobBytes, type HarnessServer, launchServer } from "../lib/server.js";
import { round } from "../lib/stats.js";
import { startUploader, uploaded, uploadTimeoutMs } from "../lib/uploader.js";
import type { LibStorageDone, LibStorageOptions } from "./lib-storage.js";
import { type LibStorageVariant, libStorageSide, type Sample } from "./report.js";

export interface CompareOptions {
  database: DatabaseDriver;
  rounds: number;
  partSize: number;
  concurrency: number;
  libStorage: LibStorageVariant[];
  sync: "files" | "all";
}

type Result = {
  seconds: number;
  /** SDK: seconds until the asset existed. */
  createdAfter?: number;
  /** lib-storage: how many of its objects S3 keeps a SHA-256 of. */
  withSha256?: number;
};

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

    const sdk = async (round: number): Promise<Result> => {
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
      (variant: LibStorageVariant) =>
      async (round: number): Promise<Result> => {
        if (!s3) throw new Error("lib-storage needs S3");
        const libOptions: LibStorageOptions = {
          target: { ...s3 },
          prefix: `lib-storage/${round}-${variant.files}-${variant.checksum}`,
          directory: source,
          queueSize: options.concurrency,
          partSize: options.partSize,
          ...variant,
        };
        const child = new Child("lib-storage", libStorageScript!, [JSON.stringify(libOptions)]);
        const done = await child.message<LibStorageDone>(uploadTimeoutMs(totalBytes)).finally(() => child.stop());
        if (done.bytes !== totalBytes) throw new Error(`lib-storage uploaded ${done.bytes} bytes, not ${totalBytes}`);
        await emptyBucket(s3);
        return { seconds: done.seconds, withSha256: done.withSha256 };
      };
    const copy = async (): Promise<Result> => {
      const target = join(work, "copy");
      // The server fsyncs each piece; the ceiling fsyncs each copied file (`sync FILE...`). A plain
      // `sync` (--sync all) also waits for whatever else on the machine wrote.
      const flush = options.sync === "all" ? "sync" : `find '${target}' -type f -exec sync -- {} +`;
      const seconds = await timeShell(`cp -r '${source}' '${target}' && ${flush}`);
      await rm(target, { recursive: true, force: true });
      return { seconds };
    };

    const sides: Side<string, Result>[] =
      storage === "s3"
        ? [
            ["sdk", sdk],
            ...options.libStorage.map(
              (variant): Side<string, Result> => [libStorageSide(variant), libStorage(variant)],
            ),
          ]
        : [
            ["sdk", sdk],
            ["cp -r && sync", copy],
          ];
    const samples = await alternate({ sides, rounds: options.rounds, bytes: totalBytes, label: storage, log });
    return samples.map(({ result, ...sample }) => ({
      storage,
      ...sample,
      ...(result.createdAfter !== undefined && { createdAfter: round(result.createdAfter, 3) }),
      ...(result.withSha256 !== undefined && { withSha256: result.withSha256 }),
    }));
  } finally {
    await server?.stop();
  }
}
