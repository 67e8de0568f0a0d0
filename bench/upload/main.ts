// Upload throughput: the SDK's uploadDirectoryAsync of a checkpoint directory against what a user
// would otherwise do: @aws-sdk/lib-storage's Upload on S3, `cp -r` then `sync` on the local disk.
// Both sides in one invocation, alternating, over several rounds; medians and ratios. See README.md.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import { bundle, Child } from "../lib/children.js";
import {
  argsOf,
  databasesOf,
  integer,
  machine,
  runMain,
  storagesOf,
  UsageError,
  withWorkDir,
  writeDocument,
} from "../lib/cli.js";
import { MiB } from "../lib/proc.js";
import type { ServerOptions, ServerReady, ServerStats } from "../lib/server.js";
import { markdownTable } from "../lib/table.js";
import { checkpointShape, writeCheckpoint } from "../lib/upload-checkpoint.js";
import { emptyBucket } from "../lib/upload-s3.js";
import { formatBytes, median, round } from "../lib/upload-stats.js";
import type { S3Ready } from "../memory/s3.js";
import type { LibStorageDone, LibStorageOptions } from "./lib-storage.js";
import type { SdkUploadDone, SdkUploadOptions } from "./sdk.js";

const USAGE = `usage: pnpm --filter @methodic/bench upload [options]
  --size <MiB>                        checkpoint size, 2048 by default (32 with --smoke): one file of
                                      3/4 of it and twelve smaller ones
  --storage local|s3|both             storage driver(s) (default both)
  --rounds <n>                        rounds of each comparison (default 3; 1 with --smoke)
  --part-size <MiB>                   server part size = lib-storage partSize (default 64; 5 with --smoke)
  --concurrency <n>                   SDK concurrency = lib-storage queueSize (default 8)
  --lib-storage-files sequence|parallel|both
                                      lib-storage: files one after the other, all at once, or both
                                      as two sides (default both; the ratio target is against sequence)
  --sync files|all                    local ceiling: fsync the copied files (sync FILE...), or the
                                      whole system's dirty pages (plain sync) (default files)
  --database pglite|postgres          default postgres when TEST_DATABASE_URL is set, else pglite
  --json <file>                       write the JSON document there instead of printing it
  --smoke                             tiny sizes, one round: seconds, for CI`;

type Side = "sdk" | "lib-storage (files in sequence)" | "lib-storage (files in parallel)" | "cp -r && sync";

interface Options {
  sizeMiB: number;
  storages: StorageDriver[];
  rounds: number;
  partSize: number;
  concurrency: number;
  libStorageFiles: ("sequence" | "parallel")[];
  sync: "files" | "all";
  database: DatabaseDriver;
  json: string | undefined;
  smoke: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      size: { type: "string" },
      storage: { type: "string", default: "both" },
      rounds: { type: "string" },
      "part-size": { type: "string" },
      concurrency: { type: "string", default: "8" },
      "lib-storage-files": { type: "string", default: "both" },
      sync: { type: "string", default: "files" },
      database: { type: "string" },
      json: { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const files = values["lib-storage-files"];
  if (files !== "sequence" && files !== "parallel" && files !== "both") {
    throw new UsageError(`--lib-storage-files must be sequence, parallel or both, not ${files}`);
  }
  const sync = values.sync;
  if (sync !== "files" && sync !== "all") throw new UsageError(`--sync must be files or all, not ${sync}`);
  const [database] = databasesOf(values.database) as [DatabaseDriver];
  const partSizeMiB = integer("part-size", values["part-size"] ?? (values.smoke ? "5" : "64"));
  if (partSizeMiB < 5) throw new UsageError("--part-size must be at least 5 (MiB): S3's smallest part");
  return {
    sizeMiB: integer("size", values.size ?? (values.smoke ? "32" : "2048")),
    storages: storagesOf(values.storage),
    rounds: integer("rounds", values.rounds ?? (values.smoke ? "1" : "3")),
    partSize: partSizeMiB * MiB,
    concurrency: integer("concurrency", values.concurrency),
    libStorageFiles: files === "both" ? ["sequence", "parallel"] : [files],
    sync,
    database,
    json: values.json && resolve(process.env.INIT_CWD ?? process.cwd(), values.json),
    smoke: values.smoke,
  };
}

const log = (line: string) => console.error(`[upload] ${line}`);

interface Scripts {
  server: string;
  s3: string;
  sdk: string;
  libStorage: string;
}

interface Sample {
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

/** Runs a command through sh, and answers how long it took; an exit other than 0 is an error. */
async function timeShell(command: string): Promise<number> {
  const started = performance.now();
  const child = spawn("sh", ["-c", command], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`\`${command}\` exited with ${code}`);
  return (performance.now() - started) / 1000;
}

/** Writes back whatever a side left dirty in the page cache, so that the next side does not pay for it. */
const settle = () => timeShell("sync");

async function childAnswer<T>(name: string, script: string, options: object, timeoutMs: number): Promise<T> {
  const child = new Child(name, script, [JSON.stringify(options)]);
  try {
    return await child.message<T>(timeoutMs);
  } finally {
    await child.stop();
  }
}

/** Generous: an upload slower than 2 MiB/s is stuck, not slow. */
const timeoutFor = (bytes: number) => Math.max(120_000, (bytes / (2 * MiB)) * 1000);

async function compare(
  scripts: Scripts,
  options: Options,
  storage: StorageDriver,
  work: string,
  source: string,
  totalBytes: number,
): Promise<Sample[]> {
  const children: Child[] = [];
  const samples: Sample[] = [];
  try {
    let s3: S3Ready | undefined;
    if (storage === "s3") {
      const child = new Child("s3rver", scripts.s3);
      children.push(child);
      s3 = await child.message<S3Ready>();
    }
    const serverOptions: ServerOptions = {
      database: options.database,
      partSize: options.partSize,
      ...(s3 && { s3 }),
    };
    const server = new Child("server", scripts.server, [JSON.stringify(serverOptions)]);
    children.push(server);
    const { url, token } = await server.message<ServerReady>(120_000);
    const experiment = `bench-upload-${storage}`;

    const sdk = async (round: number): Promise<Pick<Sample, "seconds" | "createdAfter">> => {
      const before = await server.ask<ServerStats>("stats");
      const sdkOptions: SdkUploadOptions = {
        url,
        token,
        experiment,
        run: round,
        directory: source,
        concurrency: options.concurrency,
      };
      const done = await childAnswer<SdkUploadDone>("sdk", scripts.sdk, sdkOptions, timeoutFor(totalBytes));
      if (done.asset.state !== "ready" || done.asset.size !== totalBytes) {
        throw new Error(`asset ${done.asset.id} ended ${done.asset.state} with ${done.asset.size} bytes`);
      }
      // A check that the driver is the one meant: local blobs pass through the server, S3 ones never.
      const { blobBytes } = await server.ask<ServerStats>("stats");
      const received = blobBytes - before.blobBytes;
      if (storage === "local" ? received < totalBytes : received > 0) {
        throw new Error(`the server received ${received} blob bytes itself on the ${storage} driver`);
      }
      if (s3) await emptyBucket(s3.endpoint, s3.bucket);
      return { seconds: done.seconds, createdAfter: done.createdAfter };
    };
    const libStorage = (files: "sequence" | "parallel") => async (round: number) => {
      if (!s3) throw new Error("lib-storage needs S3");
      const libOptions: LibStorageOptions = {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: `lib-storage/${round}-${files}`,
        directory: source,
        queueSize: options.concurrency,
        partSize: options.partSize,
        files,
      };
      const done = await childAnswer<LibStorageDone>(
        "lib-storage",
        scripts.libStorage,
        libOptions,
        timeoutFor(totalBytes),
      );
      if (done.bytes !== totalBytes) throw new Error(`lib-storage uploaded ${done.bytes} bytes, not ${totalBytes}`);
      await emptyBucket(s3.endpoint, s3.bucket);
      return { seconds: done.seconds };
    };
    const copy = async () => {
      const target = join(work, "copy");
      // The server fsyncs each piece; the ceiling fsyncs each copied file (`sync FILE...`). A plain
      // `sync` (--sync all) also waits for whatever else on the machine wrote.
      const flush = options.sync === "all" ? "sync" : `find '${target}' -type f -exec sync -- {} +`;
      const seconds = await timeShell(`cp -r '${source}' '${target}' && ${flush}`);
      await rm(target, { recursive: true, force: true });
      return { seconds };
    };

    const sides: [Side, (round: number) => Promise<Pick<Sample, "seconds" | "createdAfter">>][] =
      storage === "s3"
        ? [
            ["sdk", sdk],
            ...options.libStorageFiles.map((files): [Side, (round: number) => Promise<{ seconds: number }>] => [
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
          `${storage} round ${r + 1}/${options.rounds}: ${side} ${round(result.seconds)} s, ${round(mibPerSecond, 1)} MiB/s`,
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
    for (const child of children.reverse()) await child.stop();
  }
}

interface Summary {
  storage: StorageDriver;
  side: Side;
  rounds: number;
  medianSeconds: number;
  medianMibPerSecond: number;
  /** SDK only: the median time until the asset existed (listing and hashing every file, the create call). */
  medianCreatedAfter?: number;
}

interface Ratio {
  storage: StorageDriver;
  /** median SDK throughput / median throughput of `against`. */
  against: Side;
  ratio: number;
  /** The project issue's target for this ratio, if it sets one. */
  target: number | null;
  met: boolean | null;
}

function summarize(samples: Sample[]): Summary[] {
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

function ratios(summaries: Summary[]): Ratio[] {
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

function formatReport(samples: Sample[], summaries: Summary[], found: Ratio[], totalBytes: number): string {
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
  return [
    `Upload of a ${formatBytes(totalBytes)} checkpoint directory (${rounds} round(s), alternating order)`,
    "",
    figures,
    "",
    "Targets (project issue)",
    "",
    targets,
  ].join("\n");
}

async function main(options: Options): Promise<void> {
  const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
  const [server, s3, sdk, libStorage] = await bundle([
    here("../lib/server.ts"),
    here("../memory/s3.ts"),
    here("sdk.ts"),
    here("lib-storage.ts"),
  ]);
  const scripts: Scripts = { server: server!, s3: s3!, sdk: sdk!, libStorage: libStorage! };

  await withWorkDir("upload", async (work) => {
    const source = join(work, "checkpoint");
    const shape = checkpointShape(options.sizeMiB / 2048);
    log(`writing a ${options.sizeMiB} MiB checkpoint (${shape.length} files of random bytes) to ${source}`);
    const { totalBytes } = await writeCheckpoint(source, shape);

    const samples: Sample[] = [];
    for (const storage of options.storages) {
      log(`${storage} storage, ${options.database}: ${options.rounds} round(s)`);
      samples.push(...(await compare(scripts, options, storage, work, source, totalBytes)));
    }
    const summaries = summarize(samples);
    const found = ratios(summaries);
    const document = {
      benchmark: "upload",
      date: new Date().toISOString(),
      machine: {
        ...machine(),
      },
      options: {
        sizeMiB: options.sizeMiB,
        files: shape,
        totalBytes,
        storage: options.storages,
        rounds: options.rounds,
        partSizeBytes: options.partSize,
        concurrency: options.concurrency,
        libStorageFiles: options.libStorageFiles,
        sync: options.sync,
        database: options.database,
        smoke: options.smoke,
      },
      samples,
      summaries,
      ratios: found,
    };
    console.log(formatReport(samples, summaries, found, totalBytes));
    await writeDocument(document, options.json, log);
  });
}

await runMain("upload", USAGE, () => main(parseOptions(process.argv.slice(2))));
