// Memory during a large single-file upload: the peak RSS of the SDK's process and of the server's
// while one file is uploaded as a checkpoint. See README.md.
import { join } from "node:path";
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { storagesToRun } from "../lib/minio.js";
import { database, integer, storages } from "../lib/options.js";
import { writeRandomFile } from "../lib/random.js";
import { MiB } from "../lib/stats.js";
import { type HostileMeasurement, measureHostile } from "./hostile.js";
import { type Measurement, measure } from "./measure.js";
import { formatReport, HOSTILE_LIMIT, hostileVerdicts, TARGETS, verdicts } from "./report.js";

await runBenchmark(
  {
    name: "memory",
    smoke: "16 MiB in 5 MiB parts",
    options: {
      size: integer({ value: "<MiB>", help: "file size", default: 4096, smoke: 16 }),
      storage: storages(),
      database: database(),
      concurrency: integer({ help: "pieces in flight in the SDK", default: 8, shown: "8, the SDK's own" }),
      hostileParts: integer({
        help: "parts of each of the 20 components a hostile asset declares",
        default: 10_000,
        smoke: 100,
      }),
      hostileAssets: integer({ help: "hostile assets created (each re-planned 4 times)", default: 3, smoke: 1 }),
    },
  },
  async (options, { log, report }) => {
    if (process.platform !== "linux") throw new Error("this benchmark reads /proc/<pid>/status: it runs on Linux only");
    const drivers = storagesToRun(options.storage, options.smoke, log);
    // The part size: the default (64 MiB), or 5 MiB with --smoke, which still makes 16 MiB multipart.
    const partSize = options.smoke ? 5 * MiB : undefined;

    await withWorkDir("memory", async (work) => {
      const directory = join(work, "checkpoint");
      const sizeBytes = options.size * MiB;
      log(`writing ${options.size} MiB of random bytes to ${directory}`);
      await writeRandomFile(join(directory, "model.bin"), sizeBytes);

      const results: Measurement[] = [];
      for (const storage of drivers) {
        log(`${storage} storage, ${options.database}: uploading ${options.size} MiB`);
        const { database, concurrency } = options;
        const result = await measure({ storage, database, directory, sizeBytes, concurrency, partSize });
        log(
          `${storage}: ${result.seconds} s, SDK peak ${result.sdk.peakRss} MiB, server peak ${result.server.peakRss} MiB`,
        );
        results.push(result);
      }
      const hostile: HostileMeasurement[] = [];
      for (const storage of drivers) {
        log(`${storage} storage, ${options.database}: hostile requests`);
        const result = await measureHostile({
          storage,
          database: options.database,
          components: 20,
          parts: options.hostileParts,
          assets: options.hostileAssets,
          replans: 4,
        });
        log(`${storage}: server growth ${result.server.growth} MiB, slowest /healthz ${result.healthzMaxMs} ms`);
        hostile.push(result);
      }

      await report({
        tables: formatReport(results, hostile),
        document: {
          options: {
            sizeMiB: options.size,
            storage: drivers,
            database: options.database,
            concurrency: options.concurrency,
            partSizeBytes: partSize ?? null,
            smoke: options.smoke,
          },
          unit: "MiB",
          targets: [
            ...TARGETS.map(({ name, database, limit }) => ({ name, database: database ?? "any", limit })),
            { name: "server growth under hostile requests", database: "any", limit: HOSTILE_LIMIT },
          ],
          results,
          hostile,
          verdicts: [...verdicts(results), ...hostileVerdicts(hostile)],
        },
      });
    });
  },
);
