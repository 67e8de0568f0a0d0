import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import { bundle } from "../lib/children.js";
import { argsOf, databasesOf, integer, machine, runMain, storagesOf, withWorkDir, writeDocument } from "../lib/cli.js";
import { MiB } from "../lib/proc.js";
import { writeRandomFile } from "../lib/random-file.js";
import { type Measurement, measure } from "./measure.js";
import { formatReport, TARGETS, verdicts } from "./report.js";

const USAGE = `usage: pnpm --filter @methodic/bench memory [options]
  --size <MiB>                    file size (default 4096; 16 with --smoke)
  --storage local|s3|both         storage driver(s) (default both)
  --database pglite|postgres      default postgres when TEST_DATABASE_URL is set, else pglite
  --concurrency <n>               pieces in flight in the SDK (default 8, the SDK's own default)
  --json <file>                   write the JSON document there instead of printing it
  --smoke                         tiny sizes and 5 MiB parts: seconds, for CI`;

interface Options {
  sizeMiB: number;
  storages: StorageDriver[];
  database: DatabaseDriver;
  concurrency: number;
  json: string | undefined;
  smoke: boolean;
  /** The server's part size; its default (64 MiB) unless smoke, where 5 MiB still makes a multipart upload. */
  partSize: number | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      size: { type: "string" },
      storage: { type: "string", default: "both" },
      database: { type: "string" },
      concurrency: { type: "string", default: "8" },
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
  return {
    sizeMiB: integer("size", values.size ?? (values.smoke ? "16" : "4096")),
    storages: storagesOf(values.storage),
    database,
    concurrency: integer("concurrency", values.concurrency),
    // pnpm runs the script in bench/; a relative path is meant from where the command was typed.
    json: values.json && resolve(process.env.INIT_CWD ?? process.cwd(), values.json),
    smoke: values.smoke,
    partSize: values.smoke ? 5 * MiB : undefined,
  };
}

const log = (line: string) => console.error(`[memory] ${line}`);

async function main(options: Options): Promise<void> {
  if (process.platform !== "linux") throw new Error("this benchmark reads /proc/<pid>/status: it runs on Linux only");
  const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
  const [server, upload, s3] = await bundle([here("../lib/server.ts"), here("upload.ts"), here("s3.ts")]);
  const scripts = { server: server!, upload: upload!, s3: s3! };

  await withWorkDir("memory", async (work) => {
    const directory = join(work, "checkpoint");
    const sizeBytes = options.sizeMiB * MiB;
    log(`writing ${options.sizeMiB} MiB of random bytes to ${directory}`);
    await writeRandomFile(join(directory, "model.bin"), sizeBytes);

    const results: Measurement[] = [];
    for (const storage of options.storages) {
      log(`${storage} storage, ${options.database}: uploading ${options.sizeMiB} MiB`);
      const { database, concurrency, partSize } = options;
      const result = await measure(scripts, { storage, database, directory, sizeBytes, concurrency, partSize });
      log(
        `${storage}: ${result.seconds} s, SDK peak ${result.sdk.peakRss} MiB, server peak ${result.server.peakRss} MiB`,
      );
      results.push(result);
    }

    const document = {
      benchmark: "memory",
      date: new Date().toISOString(),
      machine: {
        ...machine(),
      },
      options: {
        sizeMiB: options.sizeMiB,
        storage: options.storages,
        database: options.database,
        concurrency: options.concurrency,
        partSizeBytes: options.partSize ?? null,
        smoke: options.smoke,
      },
      unit: "MiB",
      targets: TARGETS.map(({ name, database, limit }) => ({ name, database: database ?? "any", limit })),
      results,
      verdicts: verdicts(results),
    };
    console.log(formatReport(results));
    await writeDocument(document, options.json, log);
  });
}

await runMain("memory", USAGE, () => main(parseOptions(process.argv.slice(2))));
