// Upload throughput: the SDK's uploadDirectoryAsync of a checkpoint directory against what a user
// would otherwise do: @aws-sdk/lib-storage's Upload on S3, `cp -r` then `sync` on the local disk.
// Both sides in one invocation, alternating, over several rounds; medians and ratios. See README.md.
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { checkpointSize, describeCheckpoint, partSize, writeCheckpoint } from "../lib/checkpoint.js";
import { storagesToRun } from "../lib/minio.js";
import { choice, database, integer, storages } from "../lib/options.js";
import { compare } from "./compare.js";
import { formatReport, type LibStorageVariant, ratios, type Sample, summarize } from "./report.js";

/** "both" as the two words it stands for. */
const both = <T extends string>(value: T | "both", pair: [T, T]): T[] => (value === "both" ? pair : [value]);

await runBenchmark(
  {
    name: "upload",
    smoke: "tiny sizes, one round",
    options: {
      size: checkpointSize({ default: 2048, smoke: 32 }),
      storage: storages(),
      rounds: integer({ help: "rounds of each comparison", default: 3, smoke: 1 }),
      partSize: partSize({ help: "SDK partSize = lib-storage partSize", default: 64, smoke: 5 }),
      concurrency: integer({ help: "SDK concurrency = lib-storage queueSize", default: 8 }),
      libStorageFiles: choice(["sequence", "parallel", "both"], {
        help: "lib-storage: files one after the other, all at once, or both as\ntwo sides (the ratio target is against sequence)",
        default: "both",
      }),
      libStorageChecksum: choice(["none", "sha256", "both"], {
        help: "lib-storage: no checksum (WHEN_REQUIRED), a SHA-256 of every part\n(ChecksumAlgorithm, as MinIO checks the SDK's), or both as sides;\neach with every --lib-storage-files (the target is against none)",
        default: "both",
      }),
      sync: choice(["files", "all"], {
        help: "local ceiling: fsync the copied files (sync FILE...), or the\nwhole system's dirty pages (plain sync)",
        default: "files",
      }),
      database: database(),
    },
  },
  async (options, { log, report }) => {
    const drivers = storagesToRun(options.storage, options.smoke, log);
    const libStorage: LibStorageVariant[] = both(options.libStorageChecksum, ["none", "sha256"]).flatMap((checksum) =>
      both(options.libStorageFiles, ["sequence", "parallel"]).map((files) => ({ files, checksum })),
    );
    const compared = { ...options, libStorage };

    await withWorkDir("upload", async (work) => {
      const checkpoint = await writeCheckpoint(work, options.size, log);
      const { totalBytes } = checkpoint;

      const samples: Sample[] = [];
      for (const storage of drivers) {
        log(`${storage} storage, ${options.database}: ${options.rounds} round(s)`);
        samples.push(...(await compare(compared, storage, work, checkpoint, log)));
      }
      const summaries = summarize(samples);
      const found = ratios(summaries);
      await report({
        tables: formatReport(samples, summaries, found, totalBytes),
        document: {
          options: {
            ...describeCheckpoint(options.size, checkpoint),
            storage: drivers,
            rounds: options.rounds,
            partSizeBytes: options.partSize,
            concurrency: options.concurrency,
            libStorage,
            sync: options.sync,
            database: options.database,
            smoke: options.smoke,
          },
          samples,
          summaries,
          ratios: found,
        },
      });
    });
  },
);
