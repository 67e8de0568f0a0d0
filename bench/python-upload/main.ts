// The Python client's upload throughput and memory: run.upload_directory_async of a checkpoint
// directory to MinIO through Chronicle, against boto3's upload_file writing the same files to the
// same MinIO directly, alternating over rounds (medians and ratios); then the client's peak RSS
// while it uploads one large file. Every side is a Python process of its own. See README.md.
import { loadavg } from "node:os";
import { join } from "node:path";
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { checkpointSize, describeCheckpoint, partSize, writeCheckpoint } from "../lib/checkpoint.js";
import { storagesToRun } from "../lib/minio.js";
import { choice, database, integer } from "../lib/options.js";
import { writeRandomFile } from "../lib/random.js";
import { machine } from "../lib/report.js";
import { alternate, type Side } from "../lib/rounds.js";
import { emptyBucket } from "../lib/s3.js";
import { launchServer } from "../lib/server.js";
import { MiB, round } from "../lib/stats.js";
import { formatReport, type RssResult, ratios, type Sample, summarize } from "./report.js";
import { runPythonSide } from "./sides.js";

interface ClientDone {
  seconds: number;
  createdAfter: number | null;
  asset: { id: string; state: string; size: number };
  idleRssBytes: number;
  peakRssBytes: number;
}

await runBenchmark(
  {
    name: "python-upload",
    smoke: "tiny sizes, one round",
    options: {
      size: checkpointSize({ default: 2048, smoke: 32 }),
      rssSize: integer({
        value: "<MiB>",
        help: "the one file the Python client uploads while its peak RSS is read",
        default: 4096,
        smoke: 64,
      }),
      rounds: integer({ help: "rounds of the comparison", default: 3, smoke: 1 }),
      partSize: partSize({ help: "the client's part_size = boto3's multipart_chunksize", default: 64, smoke: 5 }),
      concurrency: integer({ help: "the client's concurrency = boto3's max_concurrency", default: 8 }),
      boto3: choice(["matched", "defaults", "both"], {
        help: "boto3 at the client's part size and concurrency, with its own\ndefaults (8 MiB parts, 10 threads), or both as sides (the target\nis against matched)",
        default: "both",
      }),
      database: database(),
    },
  },
  async (options, { log, report }) => {
    storagesToRun(["s3"], options.smoke, log);
    const loadBefore = loadavg();
    await withWorkDir("python-upload", async (work) => {
      const checkpoint = await writeCheckpoint(work, options.size, log);
      const { directory, totalBytes } = checkpoint;
      const server = await launchServer({
        launch: "harness",
        database: options.database,
        storage: "s3",
        partSize: options.partSize,
      });
      try {
        const { url, token } = server;
        const s3 = server.s3!;
        const experiment = "bench-python-upload";
        let runIndex = 0;
        const client = async (dir: string, bytes: number): Promise<ClientDone> => {
          const done = await runPythonSide<ClientDone>("chronicle_side.py", {
            url,
            token,
            experiment,
            variation: "upload",
            run: runIndex++,
            directory: dir,
            partSize: options.partSize,
            concurrency: options.concurrency,
          });
          if (done.asset.state !== "ready" || done.asset.size !== bytes) {
            throw new Error(
              `the Python client's asset is ${done.asset.state} with ${done.asset.size} bytes, not ${bytes}`,
            );
          }
          await emptyBucket(s3);
          return done;
        };
        const boto3 =
          (config: "matched" | "defaults") =>
          async (r: number): Promise<{ seconds: number }> => {
            const done = await runPythonSide<{ seconds: number; bytes: number }>("boto3_side.py", {
              target: s3,
              prefix: `boto3/${r}-${config}`,
              directory,
              partSize: options.partSize,
              concurrency: options.concurrency,
              config,
            });
            if (done.bytes !== totalBytes) throw new Error(`boto3 uploaded ${done.bytes} bytes, not ${totalBytes}`);
            await emptyBucket(s3);
            return done;
          };
        const configs = options.boto3 === "both" ? (["matched", "defaults"] as const) : [options.boto3];
        const sides: Side<string, { seconds: number; createdAfter?: number | null; peakRssBytes?: number }>[] = [
          ["python client", () => client(directory, totalBytes)],
          ...configs.map((c): Side<string, { seconds: number }> => [`boto3 upload_file (${c})`, boto3(c)]),
        ];
        const found = await alternate({ sides, rounds: options.rounds, bytes: totalBytes, label: "s3", log });
        const samples: Sample[] = found.map(({ result, ...sample }) => ({
          ...sample,
          ...(typeof result.createdAfter === "number" && { createdAfter: round(result.createdAfter, 3) }),
          ...(result.peakRssBytes !== undefined && { peakRssBytes: result.peakRssBytes }),
        }));

        // Memory: one large file, as a model's weights are, in a fresh process.
        const rssBytes = options.rssSize * MiB;
        const rssDir = join(work, "rss");
        log(`writing one ${options.rssSize} MiB file for the RSS measurement`);
        await writeRandomFile(join(rssDir, "model.safetensors"), rssBytes);
        const rssDone = await client(rssDir, rssBytes);
        const rss: RssResult = {
          fileBytes: rssBytes,
          seconds: round(rssDone.seconds, 3),
          idleRssBytes: rssDone.idleRssBytes,
          peakRssBytes: rssDone.peakRssBytes,
          targetBytes: 150 * 1000 * 1000,
          met: rssDone.peakRssBytes <= 150 * 1000 * 1000,
        };
        const summaries = summarize(samples);
        const targets = ratios(summaries);
        const load = { before: loadBefore.map((l) => round(l, 2)), after: loadavg().map((l) => round(l, 2)) };
        await report({
          tables: formatReport(samples, summaries, targets, totalBytes, rss, load),
          machine: machine(),
          document: {
            options: {
              ...describeCheckpoint(options.size, checkpoint),
              rounds: options.rounds,
              partSizeBytes: options.partSize,
              concurrency: options.concurrency,
              boto3: configs,
              database: options.database,
              smoke: options.smoke,
            },
            loadAverage: load,
            samples,
            summaries,
            ratios: targets,
            rss,
          },
        });
      } finally {
        await server.stop();
      }
    });
  },
);
