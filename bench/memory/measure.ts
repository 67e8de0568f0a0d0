import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import type { JsMemory } from "../lib/child.js";
import type { Child } from "../lib/children.js";
import { checkBlobBytes, type HarnessServer, launchServer } from "../lib/server.js";
import { MiB, round } from "../lib/stats.js";
import { startUploader, type UploaderMessage, uploaded } from "../lib/uploader.js";
import { memoryOf, RssSampler } from "./rss.js";

export interface MeasureOptions {
  storage: StorageDriver;
  database: DatabaseDriver;
  /** A directory holding the one file to upload. */
  directory: string;
  sizeBytes: number;
  concurrency: number;
  /** The part size of the SDK (and of the server); their default (64 MiB) unless given. */
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
  /** The S3 server (MinIO), a process of its own; null on the local driver. */
  s3Server: { idleRss: number; peakRss: number } | null;
}

const IDLE_SETTLE_MS = 1000;

/** Starts a fresh server (and S3 server), uploads the directory from a fresh SDK process, and measures. */
export async function measure(options: MeasureOptions): Promise<Measurement> {
  let server: HarnessServer | undefined;
  let uploader: Child | undefined;
  let sampler: RssSampler | undefined;
  try {
    server = await launchServer({
      launch: "harness",
      database: options.database,
      storage: options.storage,
      jsMemory: true,
      ...(options.partSize && { partSize: options.partSize }),
    });
    const { s3 } = server;

    // Idle means after start-up's garbage had a moment to go.
    await sleep(IDLE_SETTLE_MS);
    const serverIdle = rssOf("server", server.pid);
    const s3Idle = s3 && rssOf("MinIO", s3.pid);
    const idleJs = (await server.stats()).js!;

    sampler = new RssSampler(s3 ? [server.pid, s3.pid] : [server.pid]);
    uploader = await startUploader({
      url: server.url,
      token: server.token,
      experiment: "bench-memory",
      variation: "upload",
      run: 0,
      directory: options.directory,
      concurrency: options.concurrency,
      ...(options.partSize && { partSize: options.partSize }),
      mode: "upload",
      jsMemory: true,
    });
    sampler.add(uploader.pid);
    await uploader.until<UploaderMessage, "started">("started");
    const sdkStart = rssOf("uploader", uploader.pid);
    const done = await uploaded(uploader, options.sizeBytes);
    sampler.stop();
    // Read while the uploader waits for us to close its stdin: the peak of its whole life.
    const sdkPeak = memoryOf(uploader.pid)?.hwm ?? 0;
    const stats = await server.stats();
    checkBlobBytes(options.storage, stats.blobBytes, options.sizeBytes);

    const serverPeak = sampler.peak(server.pid);
    return {
      storage: options.storage,
      database: options.database,
      sizeBytes: options.sizeBytes,
      seconds: round(done.seconds, 2),
      mibPerSecond: round(options.sizeBytes / MiB / done.seconds, 1),
      assetId: done.asset.id,
      sdk: {
        startRss: mib(sdkStart),
        peakRss: mib(sdkPeak),
        sampledPeakRss: mib(sampler.peak(uploader.pid)),
        js: roundAll(done.js!),
      },
      server: {
        idleRss: mib(serverIdle),
        peakRss: mib(serverPeak),
        growth: mib(serverPeak - serverIdle),
        lifetimePeakRss: mib(memoryOf(server.pid)?.hwm ?? 0),
        idleJs: roundAll(idleJs),
        js: roundAll(stats.js!),
        blobBytes: stats.blobBytes,
      },
      s3Server: s3 && s3Idle !== undefined ? { idleRss: mib(s3Idle), peakRss: mib(sampler.peak(s3.pid)) } : null,
    };
  } finally {
    sampler?.stop();
    // The uploader first, the server (dropping its database) next, its storage last.
    await uploader?.stop();
    await server?.stop();
  }
}

function rssOf(name: string, pid: number): number {
  const memory = memoryOf(pid);
  if (!memory) throw new Error(`${name} (pid ${pid}) is gone`);
  return memory.rss;
}

const mib = (bytes: number) => round(bytes / MiB, 1);
const roundAll = (js: JsMemory): JsMemory => ({
  heapUsed: round(js.heapUsed, 1),
  external: round(js.external, 1),
  arrayBuffers: round(js.arrayBuffers, 1),
});
