// API throughput: heartbeats and start→heartbeat→succeed lifecycles against the real server (auth on, a
// write token, one run per connection), next to two ceilings: pgbench running the heartbeat's UPDATE on
// the same database, and a bare Fastify route answering from memory. See README.md.
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DatabaseDriver } from "@methodic/server/testing";
import { bundle, Child } from "../lib/children.js";
import { argsOf, databasesOf, integer, machine, runMain, UsageError, writeDocument } from "../lib/cli.js";
import type { BareReady } from "./bare.js";
import { bare, cycles, heartbeats, type LoadResult, type Target } from "./load.js";
import { findServerDatabase, pgbench } from "./pgbench.js";
import { formatReport, ratios, type Series, type SeriesResult, summarize, TARGET, verdicts } from "./report.js";
import type { ApiServerOptions, ApiServerReady } from "./server.js";
import { CYCLE_PREFIX, EXPERIMENT, HEARTBEAT_VARIATION, prepare } from "./setup.js";

const USAGE = `usage: pnpm --filter @methodic/bench api [options]
  --database pglite|postgres|both   default both when TEST_DATABASE_URL is set, else pglite
  --connections <n>                 concurrent connections, one run each (default 64; 8 with --smoke)
  --rounds <n>                      rounds, each running every series once in turn (default 3; 1 with --smoke)
  --seconds <n>                     length of each series in a round (default 10; 1 with --smoke)
  --warmup <n>                      seconds of untimed load on each series first (default 2; 0 with --smoke)
  --series <list>                   which of pgbench,bare,heartbeat,cycle to run (default all)
  --profile <dir>                   write each server's CPU profile there (server-<database>.cpuprofile)
  --json <file>                     write the JSON document there instead of printing it
  --smoke                           tiny sizes: seconds, for CI`;

interface Options {
  databases: DatabaseDriver[];
  connections: number;
  rounds: number;
  seconds: number;
  warmup: number;
  series: Set<string>;
  profile: string | undefined;
  json: string | undefined;
  smoke: boolean;
}

const ALL_SERIES = ["pgbench", "bare", "heartbeat", "cycle"];

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      database: { type: "string" },
      connections: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      series: { type: "string", default: ALL_SERIES.join(",") },
      profile: { type: "string" },
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
  const databases = databasesOf(values.database, { both: true, whenPostgres: "both" });
  const series = new Set(values.series.split(",").map((s) => s.trim()));
  const unknown = [...series].filter((s) => !ALL_SERIES.includes(s));
  if (unknown.length > 0) throw new UsageError(`--series takes ${ALL_SERIES.join(",")}, not ${unknown.join(",")}`);
  const here = (path: string) => resolve(process.env.INIT_CWD ?? process.cwd(), path);
  return {
    databases,
    series,
    profile: values.profile && here(values.profile),
    connections: integer("connections", values.connections ?? (smoke ? "8" : "64"), 1),
    rounds: integer("rounds", values.rounds ?? (smoke ? "1" : "3"), 1),
    // pgbench -T takes whole seconds.
    seconds: integer("seconds", values.seconds ?? (smoke ? "1" : "10"), 1),
    warmup: integer("warmup", values.warmup ?? (smoke ? "0" : "2"), 0),
    // pnpm runs the script in bench/; a relative path is meant from where the command was typed.
    json: values.json && here(values.json),
    smoke,
  };
}

const log = (line: string) => console.error(`[api] ${line}`);

interface Contender {
  series: Series;
  what: string;
  run(seconds: number): Promise<LoadResult>;
}

async function main(options: Options): Promise<void> {
  const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
  const [serverScript, bareScript] = await bundle([here("server.ts"), here("bare.ts")]);
  const { connections } = options;
  const children: Child[] = [];
  const start = (child: Child) => {
    children.push(child);
    return child;
  };
  process.once("SIGINT", () => process.exit(130));
  if (options.profile) await mkdir(options.profile, { recursive: true });
  try {
    const contenders: Contender[] = [];
    const beats: Contender[] = [];
    const lifecycles: Contender[] = [];
    let pgbenchContender: Contender | undefined;
    for (const database of options.databases) {
      const serverOptions: ApiServerOptions = {
        database,
        ...(options.profile && { profile: join(options.profile, `server-${database}.cpuprofile`) }),
      };
      const child = start(new Child(`${database} server`, serverScript!, [JSON.stringify(serverOptions)]));
      const { url, adminToken } = await child.message<ApiServerReady>(120_000);
      log(`${database} server at ${url}: creating a write token, an experiment and ${connections} started runs`);
      const target: Target = { url, token: await prepare(url, adminToken, connections), experiment: EXPERIMENT };
      beats.push({
        series: `${database} heartbeat`,
        what: "Chronicle: POST .../heartbeat",
        run: (s) => heartbeats(target, HEARTBEAT_VARIATION, connections, s),
      });
      const next = new Map<string, number>();
      lifecycles.push({
        series: `${database} cycle`,
        what: "Chronicle: start, heartbeat, succeed",
        run: (s) => cycles(target, CYCLE_PREFIX, connections, s, next),
      });
      if (database === "postgres") {
        const databaseUrl = await findServerDatabase(process.env.TEST_DATABASE_URL!, target.token);
        pgbenchContender = {
          series: "pgbench",
          what: "pgbench: the heartbeat UPDATE, prepared",
          run: (s) => pgbench(databaseUrl, EXPERIMENT, HEARTBEAT_VARIATION, connections, s),
        };
      }
    }
    if (pgbenchContender && options.series.has("pgbench")) contenders.push(pgbenchContender);
    if (options.series.has("bare")) {
      const bareChild = start(new Child("bare fastify", bareScript!));
      const { url: bareUrl } = await bareChild.message<BareReady>();
      const run = (s: number) => bare(bareUrl, connections, s);
      contenders.push({ series: "bare", what: "Fastify route answering from memory", run });
    }
    if (options.series.has("heartbeat")) contenders.push(...beats);
    if (options.series.has("cycle")) contenders.push(...lifecycles);

    if (options.warmup > 0) {
      for (const c of contenders) {
        log(`warm-up: ${c.series}, ${options.warmup} s`);
        await c.run(options.warmup);
      }
    }
    const rounds = new Map<Series, LoadResult[]>(contenders.map((c) => [c.series, []]));
    for (let round = 1; round <= options.rounds; round++) {
      for (const c of contenders) {
        const result = await c.run(options.seconds);
        rounds.get(c.series)!.push(result);
        log(
          `round ${round}/${options.rounds} ${c.series}: ${result.requestsPerSecond.toFixed(0)} requests/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`,
        );
      }
    }
    const results: SeriesResult[] = contenders.map((c) => summarize(c.series, c.what, rounds.get(c.series)!));

    const document = {
      benchmark: "api",
      date: new Date().toISOString(),
      machine: {
        ...machine(),
        postgres: postgresVersion(),
      },
      options: {
        databases: options.databases,
        connections,
        rounds: options.rounds,
        seconds: options.seconds,
        warmupSeconds: options.warmup,
        series: [...options.series],
        smoke: options.smoke,
      },
      unit: { rate: "per second", latency: "ms" },
      target: { heartbeatShareOfPgbench: TARGET.share, heartbeatP99Ms: TARGET.p99 },
      results,
      ratios: ratios(results),
      verdicts: verdicts(results),
    };
    console.log(formatReport(results, connections, options.seconds));
    await writeDocument(document, options.json, log);
  } finally {
    for (const child of children.reverse()) await child.stop();
  }
}

/** The PostgreSQL server's version, when there is one. */
function postgresVersion(): string | null {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return null;
  try {
    return execFileSync("psql", ["-X", "-A", "-t", "-c", "show server_version", url], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

await runMain("api", USAGE, () => main(parseOptions(process.argv.slice(2))));
