import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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
import type { ServerOptions, ServerReady } from "../lib/server.js";
import { markdownTable } from "../lib/table.js";
import { checkpointShape, writeCheckpoint } from "../lib/upload-checkpoint.js";
import { CountingProxy } from "../lib/upload-proxy.js";
import { emptyBucket } from "../lib/upload-s3.js";
import { formatBytes, median, round } from "../lib/upload-stats.js";
import type { S3Ready } from "../memory/s3.js";
import type { UploaderMessage, UploaderOptions } from "./uploader.js";

const USAGE = `usage: pnpm --filter @methodic/bench resume [options]
  --size <MiB>                   checkpoint size (default 1024; 32 with --smoke): one file of 3/4 of
                                 it and twelve smaller ones
  --part-size <MiB>              the server's part size (default 16; 5 with --smoke)
  --repetitions <n>              kills and resumes per storage driver (default 10; 2 with --smoke)
  --storage local|s3|both        storage driver(s) (default both)
  --concurrency <n>              pieces in flight in the SDK (default 8)
  --seed <n>                     seed of the random kill times (default: the time)
  --database pglite|postgres     default postgres when TEST_DATABASE_URL is set, else pglite
  --json <file>                  write the JSON document there instead of printing it
  --smoke                        tiny sizes, two repetitions: seconds, for CI`;

interface Options {
  sizeMiB: number;
  partSize: number;
  repetitions: number;
  storages: StorageDriver[];
  concurrency: number;
  seed: number;
  database: DatabaseDriver;
  json: string | undefined;
  smoke: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      size: { type: "string" },
      "part-size": { type: "string" },
      repetitions: { type: "string" },
      storage: { type: "string", default: "both" },
      concurrency: { type: "string", default: "8" },
      seed: { type: "string" },
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
  const [database] = databasesOf(values.database) as [DatabaseDriver];
  const partSizeMiB = integer("part-size", values["part-size"] ?? (values.smoke ? "5" : "16"));
  if (partSizeMiB < 5) throw new UsageError("--part-size must be at least 5 (MiB): S3's smallest part");
  return {
    sizeMiB: integer("size", values.size ?? (values.smoke ? "32" : "1024")),
    partSize: partSizeMiB * MiB,
    repetitions: integer("repetitions", values.repetitions ?? (values.smoke ? "2" : "10")),
    storages: storagesOf(values.storage),
    concurrency: integer("concurrency", values.concurrency),
    seed: values.seed === undefined ? Date.now() % 2 ** 31 : integer("seed", values.seed),
    database,
    json: values.json && resolve(process.env.INIT_CWD ?? process.cwd(), values.json),
    smoke: values.smoke,
  };
}

const log = (line: string) => console.error(`[resume] ${line}`);

/** mulberry32: a small seeded generator, so that a run's kill times can be drawn again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Repetition {
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

interface Scripts {
  server: string;
  s3: string;
  uploader: string;
}

function ready(message: UploaderMessage, totalBytes: number): Extract<UploaderMessage, { event: "done" }> {
  if (message.event !== "done") throw new Error(`the uploader said ${message.event}, not done`);
  if (message.asset.state !== "ready" || message.asset.size !== totalBytes) {
    throw new Error(`asset ${message.asset.id} ended ${message.asset.state} with ${message.asset.size} bytes`);
  }
  return message;
}

async function measure(
  scripts: Scripts,
  options: Options,
  storage: StorageDriver,
  work: string,
  directory: string,
  totalBytes: number,
): Promise<{ calibration: { seconds: number; bytes: number }; repetitions: Repetition[] }> {
  const children: Child[] = [];
  const proxy = new CountingProxy();
  const draw = random(options.seed + (storage === "s3" ? 1 : 0));
  try {
    const proxyUrl = await proxy.listen();
    let s3: S3Ready | undefined;
    if (storage === "s3") {
      const child = new Child("s3rver", scripts.s3);
      children.push(child);
      s3 = await child.message<S3Ready>();
      proxy.setUpstream(s3.endpoint);
    }
    // Storage URLs are signed for the proxy, so that every byte sent to storage passes through it.
    const serverOptions: ServerOptions = {
      database: options.database,
      partSize: options.partSize,
      ...(s3 && { s3 }),
      env: s3 ? { S3_PUBLIC_ENDPOINT: proxyUrl } : { METHODIC_PUBLIC_URL: proxyUrl },
    };
    const server = new Child("server", scripts.server, [JSON.stringify(serverOptions)]);
    children.push(server);
    const { url, token } = await server.message<ServerReady>(120_000);
    if (!s3) proxy.setUpstream(url);

    const timeoutMs = Math.max(120_000, (totalBytes / (2 * MiB)) * 1000);
    let runIndex = 0;
    const uploader = (mode: UploaderOptions["mode"], run: number, trackerPath: string) => {
      const uploaderOptions: UploaderOptions = {
        mode,
        url,
        token,
        experiment: `bench-resume-${storage}`,
        run,
        directory,
        trackerPath,
        concurrency: options.concurrency,
      };
      const child = new Child(`uploader (${mode})`, scripts.uploader, [JSON.stringify(uploaderOptions)]);
      children.push(child);
      return child;
    };
    const finish = async (child: Child) => {
      await child.stop();
      children.splice(children.indexOf(child), 1);
    };

    // Calibration: one upload left alone, for the time over which kills are drawn, and as a check that
    // an uninterrupted upload sends each byte once.
    proxy.take();
    const calibrating = uploader("first", runIndex++, join(work, "tracker-calibration.sqlite"));
    await calibrating.message<UploaderMessage>();
    const calibrated = ready(await calibrating.message<UploaderMessage>(timeoutMs), totalBytes);
    await finish(calibrating);
    const calibration = { seconds: round(calibrated.seconds, 3), bytes: proxy.take().putBytes };
    log(`${storage}: an uninterrupted upload took ${calibration.seconds} s and sent ${calibration.bytes} bytes`);
    if (s3) await emptyBucket(s3.endpoint, s3.bucket);

    const repetitions: Repetition[] = [];
    for (let repetition = 1; repetition <= options.repetitions; repetition++) {
      let finishedBeforeKill = 0;
      for (;;) {
        const run = runIndex++;
        const trackerPath = join(work, `tracker-${storage}-${run}.sqlite`);
        proxy.take();
        const first = uploader("first", run, trackerPath);
        const created = await first.message<UploaderMessage>();
        if (created.event !== "created") throw new Error(`the uploader said ${created.event}, not created`);
        const killedAt = draw();
        const delayMs = killedAt * calibration.seconds * 1000;
        const createdAt = performance.now();
        const outcome = await Promise.race([
          sleep(delayMs).then(() => "kill" as const),
          // Once killed, the child's output ends and this rejects: that is expected, not a failure.
          first.message<UploaderMessage>(timeoutMs).then(
            () => "finished" as const,
            () => "gone" as const,
          ),
        ]);
        if (outcome === "gone") throw new Error("the first uploader exited before its kill");
        if (outcome === "finished") {
          // The upload won the race: nothing to resume. Draw again on a fresh run.
          finishedBeforeKill++;
          await finish(first);
          if (finishedBeforeKill >= 5) throw new Error("five uploads in a row finished before their kill");
          continue;
        }
        const killedAfter = (performance.now() - createdAt) / 1000;
        const putsInFlight = proxy.openPuts;
        const putsWholeAtKill = proxy.openPutsWhole;
        first.process.kill("SIGKILL");
        await finish(first);
        // Let the proxy see the connections of the dead process close.
        await sleep(200);
        const firstBytes = proxy.take().putBytes;

        const resumer = uploader("resume", run, trackerPath);
        const resumed = ready(await resumer.message<UploaderMessage>(timeoutMs), totalBytes);
        await finish(resumer);
        if (resumed.asset.id !== created.assetId) {
          throw new Error(`the resume made asset ${resumed.asset.id}, not the killed one's ${created.assetId}`);
        }
        if (resumed.resumed !== 1) throw new Error(`the tracker resumed ${resumed.resumed} uploads, not 1`);
        const resumeBytes = proxy.take().putBytes;
        const sentTwice = firstBytes + resumeBytes - totalBytes;
        repetitions.push({
          storage,
          repetition,
          killedAfter: round(killedAfter, 3),
          killedAt: round(killedAt, 3),
          putsInFlight,
          putsWholeAtKill,
          firstBytes,
          resumeBytes,
          sentTwice,
          resumeSeconds: round(resumed.seconds, 3),
          finishedBeforeKill,
        });
        log(
          `${storage} ${repetition}/${options.repetitions}: killed ${round(killedAfter)} s in with ${putsInFlight} PUTs open; ` +
            `sent twice ${formatBytes(sentTwice)}`,
        );
        if (s3) await emptyBucket(s3.endpoint, s3.bucket);
        break;
      }
    }
    return { calibration, repetitions };
  } finally {
    // The proxy first: its idle keep-alive connections would hold up the server's close.
    await proxy.close();
    for (const child of children.reverse()) await child.stop();
  }
}

function formatReport(
  repetitions: Repetition[],
  bound: number,
  totalBytes: number,
  calibrations: { storage: StorageDriver; seconds: number; bytes: number }[],
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
  return [
    `Resume waste: a ${formatBytes(totalBytes)} checkpoint upload killed (SIGKILL) at a random time, then resumed`,
    "",
    perRepetition,
    "",
    "Target (project issue): never more than the pieces in flight",
    "",
    summary,
  ].join("\n");
}

async function main(options: Options): Promise<void> {
  const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
  const [server, s3, uploader] = await bundle([here("../lib/server.ts"), here("../memory/s3.ts"), here("uploader.ts")]);
  const scripts: Scripts = { server: server!, s3: s3!, uploader: uploader! };

  await withWorkDir("resume", async (work) => {
    const directory = join(work, "checkpoint");
    const shape = checkpointShape(options.sizeMiB / 2048);
    log(`writing a ${options.sizeMiB} MiB checkpoint (${shape.length} files of random bytes) to ${directory}`);
    const { totalBytes } = await writeCheckpoint(directory, shape);
    const bound = options.concurrency * options.partSize;

    const repetitions: Repetition[] = [];
    const calibrations: { storage: StorageDriver; seconds: number; bytes: number }[] = [];
    for (const storage of options.storages) {
      log(
        `${storage} storage, ${options.database}: ${options.repetitions} kill(s) and resume(s), seed ${options.seed}`,
      );
      const result = await measure(scripts, options, storage, work, directory, totalBytes);
      calibrations.push({ storage, ...result.calibration });
      repetitions.push(...result.repetitions);
    }
    const verdicts = options.storages.map((storage) => {
      const max = Math.max(...repetitions.filter((r) => r.storage === storage).map((r) => r.sentTwice));
      return { storage, maxSentTwice: max, bound, met: max <= bound };
    });
    const document = {
      benchmark: "resume",
      date: new Date().toISOString(),
      machine: {
        ...machine(),
      },
      options: {
        sizeMiB: options.sizeMiB,
        files: shape,
        totalBytes,
        partSizeBytes: options.partSize,
        repetitions: options.repetitions,
        storage: options.storages,
        concurrency: options.concurrency,
        seed: options.seed,
        database: options.database,
        smoke: options.smoke,
      },
      unit: "bytes",
      boundBytes: bound,
      calibrations,
      repetitions,
      verdicts,
    };
    console.log(formatReport(repetitions, bound, totalBytes, calibrations));
    await writeDocument(document, options.json, log);
  });
}

await runMain("resume", USAGE, () => main(parseOptions(process.argv.slice(2))));
