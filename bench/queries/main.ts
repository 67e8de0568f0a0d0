// Queries at scale: seeds a large data set with set-based SQL into a database that the real server
// migrated, then measures the latency of outputs/latest, outputs and runs lists through the API, from a
// client in a process of its own. See README.md.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDatabase } from "@methodic/server/testing";
import { bundle, Child } from "../lib/children.js";
import { argsOf, databasesOf, integer, machine, runMain, UsageError, writeDocument } from "../lib/cli.js";
import { markdownTable } from "../lib/table.js";
import { connectPostgres, openPglite, type SqlConnection } from "./database.js";
import type { LoadOptions, LoadRoute, RouteLatency } from "./load.js";
import { explainAll, type Plan } from "./plans.js";
import { checkScale, EXPERIMENT, type Scale, seedStatements, variationIds } from "./seed.js";
import { createToken, type RunningServer, startServer } from "./server.js";

type Driver = "postgres" | "pglite";

const USAGE = `usage: pnpm --filter @methodic/bench queries [options]
  --database pglite|postgres|both default postgres when TEST_DATABASE_URL is set, else pglite
  --assets <n>                    assets (default 1000000; 10000 with --smoke)
  --runs <n>                      runs (default 100000; 1000 with --smoke); assets must be a multiple
  --variations <n>                variations (default 1000; 100 with --smoke); runs must be a multiple
  --requests <n>                  measured requests per route (default 3000; 200 with --smoke)
  --warmup <n>                    unmeasured requests per route first (default 200; 20 with --smoke)
  --seed <n>                      seed of the client's choice of variations (default 1)
  --json <file>                   write the JSON document there instead of printing it
  --smoke                         tiny sizes: seconds, for CI`;

const ROUTES: LoadRoute[] = [
  { name: "latest", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/outputs/latest?asset_type=checkpoint` },
  { name: "outputs", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/outputs` },
  { name: "variation runs", path: `/v1/experiments/${EXPERIMENT}/variations/{var}/runs` },
  { name: "experiment runs", path: `/v1/experiments/${EXPERIMENT}/runs` },
  // The control: no database, no token, the smallest answer. Its tail is what the machine, Node and
  // Fastify add to every request, whatever the query.
  { name: "healthz (control)", path: "/healthz" },
];

/** The project issue's target: p99 of outputs/latest at most 10 ms. */
const LATEST_P99_TARGET_MS = 10;

interface Options {
  databases: Driver[];
  scale: Scale;
  requests: number;
  warmup: number;
  seed: number;
  json: string | undefined;
  smoke: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      database: { type: "string" },
      assets: { type: "string" },
      runs: { type: "string" },
      variations: { type: "string" },
      requests: { type: "string" },
      warmup: { type: "string" },
      seed: { type: "string", default: "1" },
      json: { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const smoke = values.smoke;
  const positive = (name: string, text: string | undefined, full: number, small: number) =>
    integer(name, text ?? String(smoke ? small : full));
  const databases = databasesOf(values.database, { both: true });
  const scale: Scale = {
    assets: positive("assets", values.assets, 1_000_000, 10_000),
    runs: positive("runs", values.runs, 100_000, 1_000),
    variations: positive("variations", values.variations, 1_000, 100),
  };
  const problem = checkScale(scale);
  if (problem) throw new UsageError(problem);
  return {
    databases,
    scale,
    requests: positive("requests", values.requests, 3000, 200),
    warmup: positive("warmup", values.warmup, 200, 20),
    seed: positive("seed", values.seed, 1, 1),
    json: values.json && resolve(process.env.INIT_CWD ?? process.cwd(), values.json),
    smoke,
  };
}

const log = (line: string) => console.error(`[queries] ${line}`);

interface Measurement {
  database: Driver;
  scale: Scale;
  /** Seconds per seed statement, and in all. */
  seed: { statements: { what: string; seconds: number }[]; seconds: number };
  sizes: Record<string, string>;
  counts: Record<string, number>;
  routes: RouteLatency[];
  plans: Plan[];
}

async function main(options: Options): Promise<void> {
  const loadStart = loadavg()[0];
  const [loadScript] = await bundle([fileURLToPath(new URL("load.ts", import.meta.url))]);
  const results: Measurement[] = [];
  let postgresVersion: string | null = null;
  for (const database of options.databases) {
    log(
      `${database}: ${options.scale.assets} assets, ${options.scale.runs} runs, ${options.scale.variations} variations`,
    );
    const work = await mkdtemp(join(tmpdir(), "methodic-bench-queries-"));
    const dropped: (() => Promise<void>)[] = [() => rm(work, { recursive: true, force: true })];
    let server: RunningServer | undefined;
    try {
      const env: Record<string, string> = { METHODIC_DATA_DIR: join(work, "data") };
      let connect: () => Promise<SqlConnection>;
      if (database === "postgres") {
        const db = await createDatabase({ empty: true, prefix: "methodic_bench_queries" });
        dropped.push(db.drop);
        env.DATABASE_URL = db.url;
        connect = () => connectPostgres(db.url);
      } else {
        connect = () => openPglite(join(work, "data", "pgdata"));
      }
      // The real server migrates the new database at its first start. PGlite's data dir is free again
      // once it stops (and is seeded while it is stopped); on PostgreSQL the server keeps running.
      server = await startServer(env);
      if (database === "pglite") {
        await server.stop();
        server = undefined;
      }

      const sql = await connect();
      let seeded: Measurement["seed"];
      let plans: Plan[];
      let sizes: Record<string, string>;
      let counts: Record<string, number>;
      try {
        seeded = await seed(sql, options.scale);
        log(`${database}: seeded in ${seeded.seconds.toFixed(1)} s`);
        counts = await countRows(sql);
        sizes = await tableSizes(sql);
        const ids = variationIds(options.scale);
        plans = await explainAll(sql, ids[Math.floor(ids.length / 2)]!);
        if (database === "postgres") postgresVersion ??= await version(sql);
      } finally {
        await sql.close();
      }

      server ??= await startServer(env);
      const token = await createToken(server.url, "read");
      const load = new Child("load", loadScript!, [
        JSON.stringify({
          url: server.url,
          token,
          routes: ROUTES,
          variations: variationIds(options.scale),
          requests: options.requests,
          warmup: options.warmup,
          seed: options.seed,
        } satisfies LoadOptions),
      ]);
      const answer = await load.message<{ results?: RouteLatency[]; error?: string }>(30 * 60_000);
      await load.stop();
      if (!answer.results) throw new Error(`the load failed: ${answer.error}`);
      for (const r of answer.results) log(`${database} ${r.name}: p50 ${r.p50} ms, p99 ${r.p99} ms`);
      results.push({ database, scale: options.scale, seed: seeded, sizes, counts, routes: answer.results, plans });
    } finally {
      await server?.stop();
      for (const drop of dropped.reverse()) await drop();
    }
  }

  const document = {
    benchmark: "queries",
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      // The machine is shared: its 1-minute load average when the measurements began and ended.
      loadAverage: { start: loadStart, end: loadavg()[0] },
      postgres: postgresVersion,
    },
    options: {
      databases: options.databases,
      scale: options.scale,
      requests: options.requests,
      warmup: options.warmup,
      seed: options.seed,
      client: "sequential: one keep-alive connection, one request at a time",
      smoke: options.smoke,
    },
    unit: "ms",
    targets: [{ name: "outputs/latest p99 <= 10 ms", limit: LATEST_P99_TARGET_MS }],
    results,
    verdicts: results.map((m) => {
      const p99 = m.routes.find((r) => r.name === "latest")?.p99 ?? Number.NaN;
      return {
        target: "outputs/latest p99 <= 10 ms",
        database: m.database,
        value: p99,
        met: p99 <= LATEST_P99_TARGET_MS,
      };
    }),
  };
  console.log(formatReport(results, options));
  await writeDocument(document, options.json, log);
}

async function seed(sql: SqlConnection, scale: Scale): Promise<Measurement["seed"]> {
  const statements: { what: string; seconds: number }[] = [];
  const t0 = performance.now();
  for (const statement of seedStatements(scale)) {
    const t = performance.now();
    await sql.query(statement);
    const what = /^\s*(insert into \w+|analyze|set \w+)/.exec(statement)?.[1] ?? statement.slice(0, 30);
    statements.push({ what, seconds: round((performance.now() - t) / 1000) });
  }
  return { statements, seconds: round((performance.now() - t0) / 1000) };
}

async function countRows(sql: SqlConnection): Promise<Record<string, number>> {
  const [row] = await sql.query<Record<string, string>>(
    `select (select count(*) from variations) as variations, (select count(*) from runs) as runs,
            (select count(*) from assets) as assets,
            (select count(*) from assets where state = 'ready') as ready_assets,
            (select count(*) from assets where state = 'pending') as pending_assets`,
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function tableSizes(sql: SqlConnection): Promise<Record<string, string>> {
  const rows = await sql.query<{ name: string; size: string }>(
    `select relname as name, pg_size_pretty(pg_total_relation_size(oid)) as size from pg_class
     where relname in ('runs', 'assets') and relkind = 'r'`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.size]));
}

async function version(sql: SqlConnection): Promise<string> {
  const [row] = await sql.query<{ server_version: string }>("show server_version");
  return row?.server_version ?? "?";
}

const round = (n: number) => Math.round(n * 100) / 100;

function formatReport(results: Measurement[], options: Options): string {
  const latency = markdownTable(
    ["database", "route", "requests", "p50", "p90", "p99", "max", "mean", "body"],
    results.flatMap((m) =>
      m.routes.map((r) => [
        m.database,
        r.name,
        String(r.requests),
        `${r.p50.toFixed(2)} ms`,
        `${r.p90.toFixed(2)} ms`,
        `${r.p99.toFixed(2)} ms`,
        `${r.max.toFixed(2)} ms`,
        `${r.mean.toFixed(2)} ms`,
        `${(r.bodyBytes / 1024).toFixed(1)} KiB`,
      ]),
    ),
  );
  const seeding = markdownTable(
    ["database", "assets", "runs", "variations", "seed time (per statement)", "runs table", "assets table"],
    results.map((m) => [
      m.database,
      String(m.counts.assets),
      String(m.counts.runs),
      String(m.counts.variations),
      `${m.seed.seconds.toFixed(1)} s (${m.seed.statements
        .filter((s) => !s.what.startsWith("set"))
        .map((s) => `${s.what.replace("insert into ", "")} ${s.seconds.toFixed(1)} s`)
        .join(", ")})`,
      m.sizes.runs ?? "-",
      m.sizes.assets ?? "-",
    ]),
  );
  const targets = markdownTable(
    ["target", "database", "measured", "verdict"],
    results.map((m) => {
      const p99 = m.routes.find((r) => r.name === "latest")?.p99 ?? Number.NaN;
      return [
        "outputs/latest p99 <= 10 ms",
        m.database,
        `${p99.toFixed(2)} ms`,
        p99 <= LATEST_P99_TARGET_MS ? "met" : "MISSED",
      ];
    }),
  );
  return [
    `Latency through the API (sequential client, one keep-alive connection; ${options.requests} requests per route, random variations, routes interleaved)`,
    "",
    latency,
    "",
    "Data set",
    "",
    seeding,
    "",
    "Targets (project issue)",
    "",
    targets,
    ...results.flatMap((m) =>
      m.plans.flatMap((p) => ["", `EXPLAIN (ANALYZE, BUFFERS) on ${m.database}: ${p.route}`, "", "```", p.plan, "```"]),
    ),
  ].join("\n");
}

await runMain("queries", USAGE, () => main(parseOptions(process.argv.slice(2))));
