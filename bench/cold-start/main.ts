// Cold start: from spawning `pnpm start` (and, to tell turbo's share from the server's, `node
// apps/server/dist/server.js`) to the first 200 of /readyz, on an existing PGlite data dir, on a new one,
// and on PostgreSQL. See README.md.
import { rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createDatabase } from "@methodic/server/testing";
import { logFor, runBenchmark, withWorkDir } from "../lib/benchmark.js";
import { integer, list, UsageError } from "../lib/options.js";
import { postgresVersion } from "../lib/report.js";
import { launchServer, type ServerEnv } from "../lib/server.js";
import { CASES, type Case, formatReport, type Launcher, ms, type Sample, type Start, summarize } from "./report.js";

const LAUNCHERS = { pnpm: "pnpm start", node: "node server.js" } as const satisfies Record<string, Launcher>;

const log = logFor("cold-start");

const caseList = list(CASES, {
  help: `comma-separated: ${CASES.join(",")}\n(postgres needs TEST_DATABASE_URL and is skipped without it)`,
});

/**
 * Starts a server, waits for its /readyz to answer 200, then stops it and waits until every process of
 * it is gone, so that the data dir lock is free for the next start.
 */
async function timeStart(launcher: Launcher, env: ServerEnv, pollMs: number, timeoutMs = 120_000): Promise<Start> {
  const launch = launcher === "pnpm start" ? "pnpm start" : "node";
  const server = await launchServer({ launch, env, pollMs, timeoutMs });
  try {
    const text = server.output();
    const served = servingTime(text);
    const cached = /Cached:\s+(\d+) cached, (\d+) total/.exec(text);
    return {
      readyMs: server.readyMs,
      listeningMs: served === null ? null : served - server.spawnedAt,
      turboCached: launcher === "pnpm start" ? (cached ? cached[1] === cached[2] : null) : null,
    };
  } finally {
    await server.stop();
  }
}

/** The pino timestamp (ms since the epoch) of the server's "Chronicle is serving" line, if logged. */
function servingTime(output: string): number | null {
  for (const line of output.split("\n")) {
    if (!line.includes("Chronicle is serving")) continue;
    try {
      const time = (JSON.parse(line) as { time?: unknown }).time;
      if (typeof time === "number") return time;
    } catch {}
  }
  return null;
}

await runBenchmark(
  {
    name: "cold-start",
    smoke: "one round",
    options: {
      rounds: integer({ help: "rounds; each starts every case with every launcher once", default: 5, smoke: 1 }),
      cases: {
        ...caseList,
        read(text, smoke, flag) {
          const cases = caseList.read(text, smoke, flag);
          if (process.env.TEST_DATABASE_URL || !cases.includes("postgres")) return cases;
          if (text !== undefined) throw new UsageError("the postgres case needs TEST_DATABASE_URL");
          log("TEST_DATABASE_URL is not set: skipping the postgres case");
          return cases.filter((c) => c !== "postgres");
        },
      },
      launchers: list(["pnpm", "node"], {
        help: "comma-separated: pnpm (pnpm start), node (node apps/server/dist/server.js)",
        default: ["pnpm", "node"],
      }),
      poll: integer({ value: "<ms>", help: "/readyz poll interval", default: 10 }),
    },
  },
  async (options, { report }) => {
    const launchers = options.launchers.map((l) => LAUNCHERS[l]);
    const loadStart = loadavg()[0];
    await withWorkDir("cold-start", async (work) => {
      let database: Awaited<ReturnType<typeof createDatabase>> | undefined;
      try {
        if (options.cases.includes("postgres")) {
          database = await createDatabase({ empty: true, prefix: "methodic_bench_cold_start" });
        }
        // The existing data dir (and the PostgreSQL database) serve both commands, one start at a time.
        // No admin token is given: on a new data dir, generating one is part of the start.
        const newDir = (launcher: Launcher, round: number) =>
          join(work, `new-${launcher === "pnpm start" ? "pnpm" : "node"}-${round}`);
        const envOf = (kase: Case, launcher: Launcher, round: number): ServerEnv => {
          switch (kase) {
            case "pglite-existing":
              return { METHODIC_DATA_DIR: join(work, "existing") };
            case "pglite-new":
              return { METHODIC_DATA_DIR: newDir(launcher, round) };
            case "postgres":
              return { METHODIC_DATA_DIR: join(work, "postgres"), DATABASE_URL: database!.url };
          }
        };
        const start = (kase: Case, launcher: Launcher, round: number) =>
          timeStart(launcher, envOf(kase, launcher, round), options.poll);

        // Warm-up, not measured: pnpm start builds the server if turbo's cache misses (skipped by --smoke,
        // where a rebuilding round is left out of the median instead); a first start creates the existing
        // data dir and migrates the PostgreSQL database.
        if (!options.smoke) {
          log("warming up: a first pnpm start (builds the server unless turbo has it cached)");
          await timeStart("pnpm start", { METHODIC_DATA_DIR: join(work, "warm-up") }, 50, 600_000);
        }
        for (const kase of options.cases.filter((c) => c !== "pglite-new")) await start(kase, "node server.js", 0);

        const samples: Sample[] = [];
        for (let round = 1; round <= options.rounds; round++) {
          for (const kase of options.cases) {
            // Alternate which launcher goes first, round by round.
            const order = round % 2 ? launchers : [...launchers].reverse();
            for (const launcher of order) {
              const sample = { case: kase, launcher, round, ...(await start(kase, launcher, round)) };
              samples.push(sample);
              log(
                `round ${round} ${kase} ${launcher}: ${ms(sample.readyMs)}${sample.turboCached === false ? " (turbo rebuilt the server)" : ""}`,
              );
            }
            if (kase === "pglite-new") {
              for (const launcher of launchers) await rm(newDir(launcher, round), { recursive: true, force: true });
            }
          }
        }

        const summaries = summarize(samples, options.cases, launchers);
        await report({
          tables: formatReport(summaries),
          machine: {
            // The machine is shared: its 1-minute load average when the measurements began and ended.
            loadAverage: { start: loadStart, end: loadavg()[0] },
            postgres: database ? await postgresVersion() : null,
          },
          document: {
            options: {
              rounds: options.rounds,
              cases: options.cases,
              launchers,
              pollMs: options.poll,
              smoke: options.smoke,
            },
            unit: "ms",
            summaries,
            samples,
          },
        });
      } finally {
        await database?.drop();
      }
    });
  },
);
