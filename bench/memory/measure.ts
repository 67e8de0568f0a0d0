import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import type { JsMemory } from "../lib/child.js";
import { Child } from "../lib/children.js";
import { MiB, memoryOf, RssSampler } from "../lib/proc.js";
import type { ServerOptions, ServerReady, ServerStats } from "../lib/server.js";
import type { S3Ready } from "./s3.js";
import type { UploadMessage, UploadOptions } from "./upload.js";

/** The bundled child scripts. */
export interface Scripts {
  server: string;
  upload: string;
  s3: string;
}

export interface MeasureOptions {
  storage: StorageDriver;
  database: DatabaseDriver;
  /** A directory holding the one file to upload. */
  directory: string;
  sizeBytes: number;
  concurrency: number;
  /** The server's METHODIC_PART_SIZE; its default (64 MiB) unless given. */
  partSize?: number;
}

/** One upload's figures; memory in MiB. */
export interface Measurement {
  storage: StorageDriver;
  database: DatabaseDriver;
  sizeBytes: number;
  /** The whole uploadDirectoryAsync: hashing the file, creating the asset, sending, finalizing. */
  seconds: number;
  mibPerSecond: number;
  assetId: string;
  sdk: {
    /** After start-up and run.start(), just before the upload. */
    startRss: number;
    /** VmHWM: the true peak of the process's whole life. */
    peakRss: number;
    /** The peak seen by sampling every 50 ms (a check on the above). */
    sampledPeakRss: number;
    js: JsMemory;
  };
  server: {
    /** Started, then left alone for a second, before the upload. */
    idleRss: number;
    /** Sampled every 50 ms while the uploader runs. */
    peakRss: number;
    /** peakRss - idleRss. */
    growth: number;
    /** VmHWM, which includes start-up (migrations). */
    lifetimePeakRss: number;
    idleJs: JsMemory;
    js: JsMemory;
    /** File bytes the server received itself: the whole file on the local driver, none on S3. */
    blobBytes: number;
  };
  /** The S3 server (s3rver), a process of its own; null on the local driver. */
  s3rver: { idleRss: number; peakRss: number } | null;
}

const IDLE_SETTLE_MS = 1000;

/** Starts a fresh server (and S3 server), uploads the directory from a fresh SDK process, and measures. */
export async function measure(scripts: Scripts, options: MeasureOptions): Promise<Measurement> {
  const children: Child[] = [];
  const start = (child: Child) => {
    children.push(child);
    return child;
  };
  let sampler: RssSampler | undefined;
  try {
    let s3: { child: Child; ready: S3Ready } | undefined;
    if (options.storage === "s3") {
      const child = start(new Child("s3rver", scripts.s3));
      s3 = { child, ready: await child.message<S3Ready>() };
    }
    const serverOptions: ServerOptions = {
      database: options.database,
      ...(s3 && { s3: s3.ready }),
      ...(options.partSize && { partSize: options.partSize }),
    };
    const server = start(new Child("server", scripts.server, [JSON.stringify(serverOptions)]));
    const { url, token } = await server.message<ServerReady>(120_000);

    // Idle means after start-up's garbage had a moment to go.
    await sleep(IDLE_SETTLE_MS);
    const serverIdle = rssOf(server);
    const s3Idle = s3 && rssOf(s3.child);
    const { js: idleJs } = await server.ask<ServerStats>("stats");

    sampler = new RssSampler(s3 ? [server.pid, s3.child.pid] : [server.pid]);
    const uploadOptions: UploadOptions = { url, token, directory: options.directory, concurrency: options.concurrency };
    const uploader = start(new Child("uploader", scripts.upload, [JSON.stringify(uploadOptions)]));
    sampler.add(uploader.pid);
    await uploader.message<UploadMessage>();
    const sdkStart = rssOf(uploader);
    const done = await uploader.message<UploadMessage>(uploadTimeoutMs(options.sizeBytes));
    if (done.event !== "done") throw new Error(`the uploader said ${done.event}, not done`);
    sampler.stop();
    // Read while the uploader waits for us to close its stdin: the peak of its whole life.
    const sdkPeak = memoryOf(uploader.pid)?.hwm ?? 0;
    const stats = await server.ask<ServerStats>("stats");

    const { asset } = done;
    if (asset.state !== "ready" || asset.size !== options.sizeBytes) {
      throw new Error(
        `asset ${asset.id} ended ${asset.state} with ${asset.size} bytes, not ready with ${options.sizeBytes}`,
      );
    }
    // A check that each driver is the one meant: local blobs pass through the server, S3 ones never.
    if (options.storage === "local" ? stats.blobBytes < options.sizeBytes : stats.blobBytes > 0) {
      throw new Error(`the server received ${stats.blobBytes} blob bytes itself on the ${options.storage} driver`);
    }

    const serverPeak = sampler.peak(server.pid);
    return {
      storage: options.storage,
      database: options.database,
      sizeBytes: options.sizeBytes,
      seconds: round(done.seconds, 2),
      mibPerSecond: round(options.sizeBytes / MiB / done.seconds),
      assetId: asset.id,
      sdk: {
        startRss: mib(sdkStart),
        peakRss: mib(sdkPeak),
        sampledPeakRss: mib(sampler.peak(uploader.pid)),
        js: roundAll(done.js),
      },
      server: {
        idleRss: mib(serverIdle),
        peakRss: mib(serverPeak),
        growth: mib(serverPeak - serverIdle),
        lifetimePeakRss: mib(memoryOf(server.pid)?.hwm ?? 0),
        idleJs: roundAll(idleJs),
        js: roundAll(stats.js),
        blobBytes: stats.blobBytes,
      },
      s3rver: s3 && s3Idle !== undefined ? { idleRss: mib(s3Idle), peakRss: mib(sampler.peak(s3.child.pid)) } : null,
    };
  } finally {
    sampler?.stop();
    // The uploader first, the server (dropping its database) next, its storage last.
    for (const child of children.reverse()) await child.stop();
  }
}

function rssOf(child: Child): number {
  const memory = memoryOf(child.pid);
  if (!memory) throw new Error(`${child.name} (pid ${child.pid}) is gone`);
  return memory.rss;
}

/** Generous: an upload slower than 2 MiB/s is stuck, not slow. */
const uploadTimeoutMs = (sizeBytes: number) => Math.max(120_000, (sizeBytes / (2 * MiB)) * 1000);

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => round(bytes / MiB);
const roundAll = (js: JsMemory): JsMemory => ({
  heapUsed: round(js.heapUsed),
  external: round(js.external),
  arrayBuffers: round(js.arrayBuffers),
});
