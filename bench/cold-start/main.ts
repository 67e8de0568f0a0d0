// Cold start: from spawning `pnpm start` (and, to tell turbo's share from the server's, `node
// apps/server/dist/server.js`) to the first 200 of /readyz, on an existing PGlite data dir, on a new one,
// and on PostgreSQL. See README.md.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDatabase } from "@methodic/server/testing";
import pg from "pg";
import { argsOf, integer, machine, runMain, UsageError, writeDocument } from "../lib/cli.js";
import { markdownTable } from "../lib/table.js";
import { type Launcher, type Start, timeStart } from "./start.js";

const USAGE = `usage: pnpm --filter @methodic/bench cold-start [options]
  --rounds <n>                    rounds; each starts every case with every launcher once (default 5; 1 with --smoke)
  --cases <list>                  comma-separated: pglite-existing,pglite-new,postgres (default all;
                                  postgres needs TEST_DATABASE_URL and is skipped without it)
  --launchers <list>              comma-separated: pnpm,node (default both)
  --poll <ms>                     /readyz poll interval (default 10)
  --json <file>                   write the JSON document there instead of printing it
  --smoke                         one round: seconds, for CI`;

type Case = "pglite-existing" | "pglite-new" | "postgres";
const CASES: Case[] = ["pglite-existing", "pglite-new", "postgres"];
const LAUNCHERS: Record<string, Launcher> = { pnpm: "pnpm start", node: "node server.js" };

/** The project issue's targets, for `pnpm start`; the node figures show the server's own share. */
const TARGET_MS: Record<Case, number> = { "pglite-existing": 1500, "pglite-new": 5000, postgres: 1500 };

interface Options {
  rounds: number;
  cases: Case[];
  launchers: Launcher[];
  pollMs: number;
  json: string | undefined;
  smoke: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argsOf(argv),
    options: {
      rounds: { type: "string" },
      cases: { type: "string" },
      launchers: { type: "string", default: "pnpm,node" },
      poll: { type: "string", default: "10" },
      json: { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const cases = (values.cases ?? CASES.join(",")).split(",").map((c) => {
    if (!CASES.includes(c as Case)) throw new UsageError(`unknown case ${c}`);
    return c as Case;
  });
  if (!process.env.TEST_DATABASE_URL && cases.includes("postgres")) {
    if (values.cases !== undefined) throw new UsageError("the postgres case needs TEST_DATABASE_URL");
    log("TEST_DATABASE_URL is not set: skipping the postgres case");
    cases.splice(cases.indexOf("postgres"), 1);
  }
  const launchers = values.launchers.split(",").map((l) => {
    const launcher = LAUNCHERS[l];
    if (!launcher) throw new UsageError(`unknown launcher ${l} (pnpm or node)`);
    return launcher;
  });
  return {
    rounds: integer("rounds", values.rounds ?? (values.smoke ? "1" : "5")),
    cases,
    launchers,
    pollMs: integer("poll", values.poll),
    json: values.json && resolve(process.env.INIT_CWD ?? process.cwd(), values.json),
    smoke: values.smoke,
  };
}

const log = (line: string) => console.error(`[cold-start] ${line}`);

const root = fileURLToPath(new URL("../..", import.meta.url));
const entry = join(root, "apps/server/dist/server.js");

interface Sample extends Start {
  case: Case;
  launcher: Launcher;
  round: number;
}

interface Summary {
  case: Case;
  launcher: Launcher;
  /** Samples in the median: for pnpm start, the rounds where turbo found its build cached. */
  used: number;
  rounds: number;
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  medianListeningMs: number | null;
  targetMs: number;
  met: boolean | null;
}

async function main(options: Options): Promise<void> {
  const loadStart = loadavg()[0];
  const work = await mkdtemp(join(tmpdir(), "methodic-bench-cold-start-"));
  let database: { url: string; drop(): Promise<void> } | undefined;
  try {
    if (options.cases.includes("postgres"))
      database = await createDatabase({ empty: true, prefix: "methodic_bench_cold_start" });
    // A known admin token keeps the embedded start from writing one (it does so on a new data dir only).
    // The existing data dir (and the PostgreSQL database) serve both commands, one start at a time.
    const envOf = (kase: Case, launcher: Launcher, round: number): Record<string, string> => {
      switch (kase) {
        case "pglite-existing":
          return { METHODIC_DATA_DIR: join(work, "existing") };
        case "pglite-new":
          return { METHODIC_DATA_DIR: newDir(launcher, round) };
        case "postgres":
          return { METHODIC_DATA_DIR: join(work, "postgres"), DATABASE_URL: database!.url };
      }
    };
    const newDir = (launcher: Launcher, round: number) =>
      join(work, `new-${launcher === "pnpm start" ? "pnpm" : "node"}-${round}`);
    const start = async (kase: Case, launcher: Launcher, round: number) =>
      timeStart({
        launcher,
        root,
        entry,
        env: envOf(kase, launcher, round),
        pollMs: options.pollMs,
        timeoutMs: 120_000,
      });

    // Warm-up, not measured: pnpm start builds the server if turbo's cache misses (skipped by --smoke,
    // where a rebuilding round is left out of the median instead); a first start creates the existing
    // data dir and migrates the PostgreSQL database.
    if (!options.smoke) {
      log("warming up: a first pnpm start (builds the server unless turbo has it cached)");
      await timeStart({
        launcher: "pnpm start",
        root,
        entry,
        env: { METHODIC_DATA_DIR: join(work, "warm-up") },
        pollMs: 50,
        timeoutMs: 600_000,
      });
    }
    for (const kase of options.cases.filter((c) => c !== "pglite-new")) await start(kase, "node server.js", 0);

    const samples: Sample[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const kase of options.cases) {
        // Alternate which launcher goes first, round by round.
        const launchers = round % 2 ? options.launchers : [...options.launchers].reverse();
        for (const launcher of launchers) {
          const sample = { case: kase, launcher, round, ...(await start(kase, launcher, round)) };
          samples.push(sample);
          log(
            `round ${round} ${kase} ${launcher}: ${ms(sample.readyMs)}${sample.turboCached === false ? " (turbo rebuilt the server)" : ""}`,
          );
        }
        if (kase === "pglite-new") {
          for (const launcher of options.launchers) {
            await rm(newDir(launcher, round), { recursive: true, force: true });
          }
        }
      }
    }

    const summaries = summarize(samples, options);
    const document = {
      benchmark: "cold-start",
      date: new Date().toISOString(),
      machine: {
        ...machine(),
        // The machine is shared: its 1-minute load average when the measurements began and ended.
        loadAverage: { start: loadStart, end: loadavg()[0] },
        postgres: database ? await serverVersion() : null,
      },
      options: {
        rounds: options.rounds,
        cases: options.cases,
        launchers: options.launchers,
        pollMs: options.pollMs,
        smoke: options.smoke,
      },
      unit: "ms",
      summaries,
      samples,
    };
    console.log(formatReport(summaries));
    await writeDocument(document, options.json, log);
  } finally {
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  }
}

function summarize(samples: Sample[], options: Options): Summary[] {
  return options.cases.flatMap((kase) =>
    options.launchers.map((launcher) => {
      const all = samples.filter((s) => s.case === kase && s.launcher === launcher);
      // A round where turbo rebuilt the server (another engineer changed its sources) measures tsc.
      const used = all.filter((s) => s.turboCached !== false);
      const ready = median(used.map((s) => s.readyMs));
      const listening = median(used.flatMap((s) => (s.listeningMs === null ? [] : [s.listeningMs])));
      const targetMs = TARGET_MS[kase];
      return {
        case: kase,
        launcher,
        used: used.length,
        rounds: all.length,
        medianMs: ready,
        minMs: used.length ? Math.min(...used.map((s) => s.readyMs)) : null,
        maxMs: used.length ? Math.max(...used.map((s) => s.readyMs)) : null,
        medianListeningMs: listening,
        targetMs,
        met: ready === null ? null : ready <= targetMs,
      };
    }),
  );
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ms = (n: number | null) => (n === null ? "-" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);

function formatReport(summaries: Summary[]): string {
  const table = markdownTable(
    [
      "case",
      "command",
      "rounds used",
      "median to /readyz 200",
      "min",
      "max",
      "median to listening",
      "target",
      "verdict",
    ],
    summaries.map((s) => [
      s.case,
      s.launcher === "pnpm start" ? "pnpm start" : "node apps/server/dist/server.js",
      `${s.used}/${s.rounds}`,
      ms(s.medianMs),
      ms(s.minMs),
      ms(s.maxMs),
      ms(s.medianListeningMs),
      s.launcher === "pnpm start" ? `<= ${ms(s.targetMs)}` : `(${ms(s.targetMs)})`,
      s.met === null ? "-" : s.launcher === "pnpm start" ? (s.met ? "met" : "MISSED") : s.met ? "within" : "over",
    ]),
  );
  return [
    "Cold start: spawn to the first 200 of GET /readyz (medians; pnpm start rounds in which turbo rebuilt the server are left out)",
    "",
    table,
  ].join("\n");
}

async function serverVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>("show server_version")).rows[0]?.server_version ?? "?";
  } finally {
    await client.end();
  }
}

await runMain("cold-start", USAGE, () => main(parseOptions(process.argv.slice(2))));
