// Queries at scale: seeds a large data set with set-based SQL into a database that the real server
// migrated, then measures the latency of outputs/latest, outputs and runs lists through the API, from a
// client in a process of its own. See README.md.
import { loadavg } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, createDatabase } from "@methodic/server/testing";
import { createToken } from "../lib/api.js";
import { runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { bundle, Child } from "../lib/children.js";
import { databases, integer, UsageError } from "../lib/options.js";
import { postgresVersion } from "../lib/report.js";
import { type EntryServer, launchServer } from "../lib/server.js";
import { connectPostgres, openPglite, type SqlConnection } from "./database.js";
import type { LoadOptions, LoadRoute, RouteLatency } from "./load.js";
import { explainAll } from "./plans.js";
import { formatReport, LATEST_P99_TARGET_MS, type Measurement, verdicts } from "./report.js";
import { checkScale, type DataSet, EXPERIMENT, seed, variationIds } from "./seed.js";

const ROUTES: LoadRoute[] = [
  { name: "latest", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/outputs/latest?asset_type=checkpoint` },
  { name: "outputs", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/outputs` },
  { name: "variation runs", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/runs` },
  { name: "experiment runs", path: `/v1/experiments/${EXPERIMENT}/runs` },
  // The control: no database, no token, the smallest answer. Its tail is what the machine, Node and
  // Fastify add to every request, whatever the query.
  { name: "healthz (control)", path: "/healthz" },
];

await runBenchmark(
  {
    name: "queries",
    smoke: "tiny sizes",
    options: {
      database: databases(),
      assets: integer({ help: "assets; a multiple of --runs", default: 1_000_000, smoke: 10_000 }),
      runs: integer({ help: "runs; a multiple of --variations", default: 100_000, smoke: 1_000 }),
      variations: integer({ help: "variations", default: 1_000, smoke: 100 }),
      requests: integer({ help: "measured requests per route", default: 3000, smoke: 200 }),
      warmup: integer({ help: "unmeasured requests per route first", default: 200, smoke: 20 }),
      seed: integer({ help: "seed of the client's choice of variations", default: 1 }),
    },
  },
  async (options, { log, report }) => {
    const scale = { assets: options.assets, runs: options.runs, variations: options.variations };
    const problem = checkScale(scale);
    if (problem) throw new UsageError(problem);

    const loadStart = loadavg()[0];
    const [loadScript] = await bundle(import.meta.url, ["load.ts"]);
    const results: Measurement[] = [];
    for (const database of options.database) {
      log(`${database}: ${scale.assets} assets, ${scale.runs} runs, ${scale.variations} variations`);
      await withWorkDir("queries", async (work) => {
        const dropped: (() => Promise<void>)[] = [];
        let server: EntryServer | undefined;
        try {
          const env: Record<string, string> & { METHODIC_DATA_DIR: string } = {
            METHODIC_DATA_DIR: join(work, "data"),
            METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
            // No line per request.
            LOG_LEVEL: "warn",
          };
          let connect: () => Promise<SqlConnection>;
          if (database === "postgres") {
            const db = await createDatabase({ empty: true, prefix: "methodic_bench_queries" });
            dropped.push(db.drop);
            env.DATABASE_URL = db.url;
            connect = () => connectPostgres(db.url);
          } else {
            connect = () => openPglite(join(work, "data", "pgdata"));
          }
          const start = () => launchServer({ launch: "node", env, echo: true });
          // The real server migrates the new database at its first start. PGlite's data dir is free again
          // once it stops (and is seeded while it is stopped); on PostgreSQL the server keeps running.
          server = await start();
          if (database === "pglite") {
            await server.stop();
            server = undefined;
          }

          const sql = await connect();
          let dataSet: DataSet;
          let plans: Measurement["plans"];
          try {
            dataSet = await seed(sql, scale);
            log(`${database}: seeded in ${dataSet.seed.seconds.toFixed(1)} s`);
            const ids = variationIds(scale);
            plans = await explainAll(sql, ids[Math.floor(ids.length / 2)]!);
          } finally {
            await sql.close();
          }

          server ??= await start();
          const token = await createToken(server.url, ADMIN_TOKEN, "bench-queries read", "read");
          const load = new Child("load", loadScript!, [
            JSON.stringify({
              url: server.url,
              token,
              routes: ROUTES,
              variations: variationIds(scale),
              requests: options.requests,
              warmup: options.warmup,
              seed: options.seed,
            } satisfies LoadOptions),
          ]);
          const answer = await load.message<{ results?: RouteLatency[]; error?: string }>(30 * 60_000);
          await load.stop();
          if (!answer.results) throw new Error(`the load failed: ${answer.error}`);
          for (const r of answer.results) log(`${database} ${r.name}: p50 ${r.p50} ms, p99 ${r.p99} ms`);
          results.push({ database, scale, ...dataSet, routes: answer.results, plans });
        } finally {
          await server?.stop();
          for (const drop of dropped.reverse()) await drop();
        }
      });
    }

    await report({
      tables: formatReport(results, options.requests),
      machine: {
        // The machine is shared: its 1-minute load average when the measurements began and ended.
        loadAverage: { start: loadStart, end: loadavg()[0] },
        postgres: options.database.includes("postgres") ? await postgresVersion() : null,
      },
      document: {
        options: {
          databases: options.database,
          scale,
          requests: options.requests,
          warmup: options.warmup,
          seed: options.seed,
          client: "sequential: one keep-alive connection, one request at a time",
          smoke: options.smoke,
        },
        unit: "ms",
        targets: [{ name: "outputs/latest p99 <= 10 ms", limit: LATEST_P99_TARGET_MS }],
        results,
        verdicts: verdicts(results),
      },
    });
  },
);
