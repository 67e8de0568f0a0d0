// Resume waste: an SDK process uploading a checkpoint with an upload tracker is killed (SIGKILL) at a
// random time and another process resumes the upload; how many bytes went to storage twice. See README.md.
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { checkpointSize, describeCheckpoint, partSize, writeCheckpoint } from "../lib/checkpoint.js";
import { storagesToRun } from "../lib/minio.js";
import { database, integer, storages } from "../lib/options.js";
import { measure } from "./measure.js";
import { type Calibration, formatReport, type Repetition } from "./report.js";

await runBenchmark(
  {
    name: "resume",
    smoke: "tiny sizes, two repetitions",
    options: {
      size: checkpointSize({ default: 1024, smoke: 32 }),
      partSize: partSize({ help: "the SDK's (and the server's) part size", default: 16, smoke: 5 }),
      repetitions: integer({ help: "kills and resumes per storage driver", default: 10, smoke: 2 }),
      storage: storages(),
      concurrency: integer({ help: "pieces in flight in the SDK", default: 8 }),
      seed: integer({
        help: "seed of the random kill times",
        default: () => Date.now() % 2 ** 31,
        shown: "the time",
      }),
      database: database(),
    },
  },
  async (options, { log, report }) => {
    const drivers = storagesToRun(options.storage, options.smoke, log);
    await withWorkDir("resume", async (work) => {
      const checkpoint = await writeCheckpoint(work, options.size, log);
      const { totalBytes } = checkpoint;
      const bound = options.concurrency * options.partSize;

      const repetitions: Repetition[] = [];
      const calibrations: Calibration[] = [];
      for (const storage of drivers) {
        log(
          `${storage} storage, ${options.database}: ${options.repetitions} kill(s) and resume(s), seed ${options.seed}`,
        );
        const result = await measure(options, storage, work, checkpoint, log);
        calibrations.push({ storage, ...result.calibration });
        repetitions.push(...result.repetitions);
      }
      const verdicts = drivers.map((storage) => {
        const max = Math.max(...repetitions.filter((r) => r.storage === storage).map((r) => r.sentTwice));
        return { storage, maxSentTwice: max, bound, met: max <= bound };
      });
      await report({
        tables: formatReport(repetitions, bound, totalBytes, calibrations),
        document: {
          options: {
            ...describeCheckpoint(options.size, checkpoint),
            partSizeBytes: options.partSize,
            repetitions: options.repetitions,
            storage: drivers,
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
        },
      });
    });
  },
);
