import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Asset } from "@methodic/sdk";
import { Chronicle } from "@methodic/sdk";
import type { DatabaseDriver } from "@methodic/server/testing";
import type { Checkpoint } from "../lib/checkpoint.js";
import { bundle, Child } from "../lib/children.js";
import { alternate, type Side } from "../lib/rounds.js";
import { type HarnessServer, launchServer } from "../lib/server.js";
import { MiB, round } from "../lib/stats.js";
import { startUploader, uploaded, uploadTimeoutMs } from "../lib/uploader.js";
import type { PlainOptions } from "./plain.js";
import type { Sample } from "./report.js";
import type { SdkDownloadOptions } from "./sdk.js";

/** What each side's child tells when its download is on disk. */
export interface DownloadDone {
  seconds: number;
  bytes: number;
  files: number;
  /** CPU the child spent over the timed part (user and system), to tell where a side's time goes. */
  cpuSeconds: number;
}

export interface CompareOptions {
  database: DatabaseDriver;
  rounds: number;
  partSize: number;
  concurrency: number;
}

export interface Uploaded {
  assetId: string;
  /** The SDK's upload of the checkpoint, once, before the rounds (not compared with anything). */
  seconds: number;
}

interface Result extends DownloadDone {
  /** What MinIO read from the disk itself during the side, not from the page cache. */
  storageDiskReadBytes: number;
  /** CPU MinIO spent during the side. */
  storageCpuSeconds: number;
}

/** Bytes a process has caused to be read from storage devices (/proc/<pid>/io read_bytes). */
function diskReadBytes(pid: number): number {
  return Number(/^read_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
}

/** A process's CPU so far, user and system (/proc/<pid>/stat, in clock ticks of 1/100 s on Linux). */
function cpuSecondsOf(pid: number): number {
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The plain side writes object `i` of the asset to `<directory>/<i>`, as storage names it; after the
 * clock stops, every such file must have component i's size and sha256 (the SDK checks its own).
 */
async function checkPlain(directory: string, asset: Asset): Promise<void> {
  for (const [i, component] of asset.components.entries()) {
    const file = join(directory, String(i));
    const size = (await stat(file)).size;
    if (size !== component.size || (await sha256Of(file)) !== component.sha256) {
      throw new Error(`the plain download of ${component.path} (object ${i}) is not its bytes`);
    }
  }
}

/**
 * On one fresh server on MinIO: the checkpoint uploaded once through the SDK, then, `rounds` times in
 * rotating order, the SDK's verified download of that asset against plain ranged GETs of its objects,
 * each into the same fresh directory (removed after every side).
 */
export async function compare(
  options: CompareOptions,
  work: string,
  checkpoint: Checkpoint,
  log: (line: string) => void,
): Promise<{ uploaded: Uploaded; samples: Sample[] }> {
  const { totalBytes } = checkpoint;
  const [sdkScript, plainScript] = await bundle(import.meta.url, ["sdk.ts", "plain.ts"]);
  const directory = join(work, "download");
  let server: HarnessServer | undefined;
  try {
    server = await launchServer({ launch: "harness", database: options.database, storage: "s3" });
    const { url, token, s3 } = server;
    if (!s3) throw new Error("the download benchmark runs on S3");

    log(`uploading the checkpoint once through the SDK (part size ${options.partSize / MiB} MiB)`);
    const uploader = await startUploader({
      url,
      token,
      experiment: "bench-download",
      variation: "download",
      run: 0,
      directory: checkpoint.directory,
      concurrency: 8,
      partSize: options.partSize,
      mode: "upload",
    });
    const done = await uploaded(uploader, totalBytes).finally(() => uploader.stop());
    const asset = await new Chronicle({ baseUrl: url, token }).getAsset(done.asset.id);
    log(`asset ${asset.id}: ${asset.components.length} files uploaded in ${round(done.seconds, 2)} s`);

    /** A side's child, timed by itself, MinIO's disk reads counted around it; its output removed after. */
    const side = (name: string, script: string, childOptions: object, check?: () => Promise<void>) => async () => {
      const before = { read: diskReadBytes(s3.pid), cpu: cpuSecondsOf(s3.pid) };
      const child = new Child(name, script, [JSON.stringify(childOptions)]);
      // Generous: a download slower than 2 MiB/s is stuck, as an upload would be.
      const result = await child.message<DownloadDone>(uploadTimeoutMs(totalBytes)).finally(() => child.stop());
      const storageDiskReadBytes = diskReadBytes(s3.pid) - before.read;
      const storageCpuSeconds = cpuSecondsOf(s3.pid) - before.cpu;
      if (result.bytes !== totalBytes || result.files !== asset.components.length) {
        throw new Error(`${name} wrote ${result.files} files of ${result.bytes} bytes, not the asset's`);
      }
      await check?.();
      await rm(directory, { recursive: true, force: true });
      return { ...result, storageDiskReadBytes, storageCpuSeconds } satisfies Result;
    };
    const sdkOptions: SdkDownloadOptions = {
      url,
      token,
      assetId: asset.id,
      directory,
      concurrency: options.concurrency,
    };
    const plainOptions: PlainOptions = {
      target: { ...s3 },
      prefix: `assets/${asset.id}/`,
      directory,
      rangeSize: options.partSize,
      concurrency: options.concurrency,
    };
    const sides: Side<string, Result>[] = [
      ["sdk", side("sdk", sdkScript!, sdkOptions)],
      ["plain ranged GET", side("plain", plainScript!, plainOptions, () => checkPlain(directory, asset))],
    ];
    const samples = await alternate({ sides, rounds: options.rounds, bytes: totalBytes, label: "download", log });
    return {
      uploaded: { assetId: asset.id, seconds: round(done.seconds, 3) },
      samples: samples.map(({ result, ...sample }) => ({
        ...sample,
        storageDiskReadMiB: round(result.storageDiskReadBytes / MiB, 1),
        cpuSeconds: { client: round(result.cpuSeconds, 2), minio: round(result.storageCpuSeconds, 2) },
      })),
    };
  } finally {
    await server?.stop();
  }
}
