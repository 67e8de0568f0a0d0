// Download throughput: the SDK's verified download of a checkpoint asset (each file streamed, hashed,
// fsynced, checked against its sha256) against plain parallel ranged GETs of the same objects with
// the AWS SDK, from the same MinIO to the same disk. Both sides in one invocation, alternating, over
// several rounds; medians and the ratio. See README.md.
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { checkpointSize, describeCheckpoint, partSize, writeCheckpoint } from "../lib/checkpoint.js";
import { storagesToRun } from "../lib/minio.js";
import { database, integer } from "../lib/options.js";
import { compare } from "./compare.js";
import { formatReport, ratios, summarize } from "./report.js";

await runBenchmark(
  {
    name: "download",
    smoke: "tiny sizes, one round",
    options: {
      size: checkpointSize({ default: 2048, smoke: 16 }),
      rounds: integer({ help: "rounds of the comparison", default: 3, smoke: 1 }),
      partSize: partSize({ help: "the upload's part size = the plain side's range size", default: 64, smoke: 5 }),
      concurrency: integer({
        help: "SDK concurrency (requests in flight) = the plain side's ranges in flight",
        default: 4,
        shown: "4, the SDK's own",
      }),
      database: database(),
    },
  },
  async (options, { log, report }) => {
    // S3 only: without MinIO, --smoke says so and stops (Skipped), a real run fails.
    storagesToRun(["s3"], options.smoke, log);
    await withWorkDir("download", async (work) => {
      const checkpoint = await writeCheckpoint(work, options.size, log);
      const { totalBytes } = checkpoint;
      log(`${options.database}: ${options.rounds} round(s)`);
      const { uploaded, samples } = await compare(options, work, checkpoint, log);
      const summaries = summarize(samples);
      const found = ratios(summaries);
      await report({
        tables: formatReport(samples, summaries, found, totalBytes),
        document: {
          options: {
            ...describeCheckpoint(options.size, checkpoint),
            rounds: options.rounds,
            partSizeBytes: options.partSize,
            concurrency: options.concurrency,
            database: options.database,
            fsync: "each file, on both sides",
            smoke: options.smoke,
          },
          uploaded,
          samples,
          summaries,
          ratios: found,
        },
      });
    });
  },
);
