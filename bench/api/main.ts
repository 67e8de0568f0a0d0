// API throughput: heartbeats and start→heartbeat→succeed lifecycles against the real server (auth on, a
// write token, one run per connection), next to two ceilings: pgbench running the heartbeat's UPDATE on
// the same database, and a bare Fastify route answering from memory. See README.md.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { runBenchmark } from "../lib/benchmark.js";
import { bundle, Child } from "../lib/children.js";
import { databases, integer, list, path } from "../lib/options.js";
import { postgresVersion } from "../lib/report.js";
import { type HarnessServer, launchServer } from "../lib/server.js";
import type { BareReady } from "./bare.js";
import { bare, cycles, heartbeats, type LoadResult, type Target } from "./load.js";
import { pgbench } from "./pgbench.js";
import { formatReport, ratios, type Series, type SeriesResult, summarize, TARGET, verdicts } from "./report.js";
import { CYCLE_PREFIX, EXPERIMENT, HEARTBEAT_VARIATION, prepare } from "./setup.js";

const SERIES = ["pgbench", "bare", "heartbeat", "cycle"] as const;

interface Contender {
  series: Series;
  what: string;
  run(seconds: number): Promise<LoadResult>;
}

await runBenchmark(
  {
    name: "api",
    smoke: "tiny sizes",
    options: {
      database: databases({ whenPostgres: "both" }),
      connections: integer({ help: "concurrent connections, one run each", default: 64, smoke: 8 }),
      rounds: integer({ help: "rounds, each running every series once in turn", default: 3, smoke: 1 }),
      // pgbench -T takes whole seconds.
      seconds: integer({ help: "length of each series in a round", default: 10, smoke: 1 }),
      warmup: integer({ help: "seconds of untimed load on each series first", default: 2, smoke: 0, min: 0 }),
      series: list(SERIES, { help: `which of ${SERIES.join(",")} to run` }),
      profile: path({ value: "<dir>", help: "write each server's CPU profile there (server-<database>.cpuprofile)" }),
    },
  },
  async (options, { log, report }) => {
    const [bareScript] = await bundle(import.meta.url, ["bare.ts"]);
    const { connections } = options;
    const servers: HarnessServer[] = [];
    let bareChild: Child | undefined;
    if (options.profile) await mkdir(options.profile, { recursive: true });
    try {
      const contenders: Contender[] = [];
      const beats: Contender[] = [];
      const lifecycles: Contender[] = [];
      let pgbenchContender: Contender | undefined;
      for (const database of options.database) {
        const server = await launchServer({
          launch: "harness",
          name: `${database} server`,
          database,
          storage: "local",
          ...(options.profile && { profile: join(options.profile, `server-${database}.cpuprofile`) }),
        });
        servers.push(server);
        const { url, databaseUrl } = server;
        log(`${database} server at ${url}: creating a write token, an experiment and ${connections} started runs`);
        const target: Target = { url, token: await prepare(url, server.token, connections), experiment: EXPERIMENT };
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
        if (databaseUrl) {
          pgbenchContender = {
            series: "pgbench",
            what: "pgbench: the heartbeat UPDATE, prepared",
            run: (s) => pgbench(databaseUrl, EXPERIMENT, HEARTBEAT_VARIATION, connections, s, log),
          };
        }
      }
      if (pgbenchContender && options.series.includes("pgbench")) contenders.push(pgbenchContender);
      if (options.series.includes("bare")) {
        bareChild = new Child("bare fastify", bareScript!);
        const { url: bareUrl } = await bareChild.message<BareReady>();
        const run = (s: number) => bare(bareUrl, connections, s);
        contenders.push({ series: "bare", what: "Fastify route answering from memory", run });
      }
      if (options.series.includes("heartbeat")) contenders.push(...beats);
      if (options.series.includes("cycle")) contenders.push(...lifecycles);

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

      await report({
        tables: formatReport(results, connections, options.seconds),
        machine: { postgres: await postgresVersion() },
        document: {
          options: {
            databases: options.database,
            connections,
            rounds: options.rounds,
            seconds: options.seconds,
            warmupSeconds: options.warmup,
            series: options.series,
            smoke: options.smoke,
          },
          unit: { rate: "per second", latency: "ms" },
          target: { heartbeatShareOfPgbench: TARGET.share, heartbeatP99Ms: TARGET.p99 },
          results,
          ratios: ratios(results),
          verdicts: verdicts(results),
        },
      });
    } finally {
      await bareChild?.stop();
      for (const server of servers.reverse()) await server.stop();
    }
  },
);
