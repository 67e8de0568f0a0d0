import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  ADMIN_TOKEN,
  type PostgresCluster,
  type ServerProcess,
  spawnServer,
  startPostgresCluster,
} from "../src/testing/index.js";
import { type HttpAnswer, httpCall } from "./support/http.js";

const RUNS = 64;
const WRITERS = 4;
/** An answer later than this counts as a hang. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Between one client's heartbeats: a trainer's interval, shortened. */
const PACE_MS = 100;
const UNAVAILABLE = "The database is unreachable; try again shortly.";

/** Where the database's restart was when a request was sent and answered. */
type Phase = "up" | "stopping" | "down" | "starting" | "back";

interface Answer extends HttpAnswer {
  /** "changing" when it was sent in one and answered in another. */
  phase: Phase | "changing";
}

let cluster: PostgresCluster;
let server: ServerProcess;
let url: string;
let databaseUrl: string;
let dataDir: string;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query("create database chronicle");
  await admin.end();
  databaseUrl = cluster.url.replace(/\/postgres$/, "/chronicle");
  dataDir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "restart-"));
  server = spawnServer({ METHODIC_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, METHODIC_ADMIN_TOKEN: ADMIN_TOKEN });
  url = await server.url;
});

afterAll(async () => {
  await server?.stop("SIGKILL");
  await cluster?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const call = (method: string, path: string, body?: object) => httpCall(url, method, path, body, REQUEST_TIMEOUT_MS);

/** Resolves once `condition` holds, checking as the clients' answers come in. */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 50) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`the server exited while waiting until ${what}:\n${server.output().slice(-4000)}`);
    }
    if (waited > 2 * REQUEST_TIMEOUT_MS)
      throw new Error(`never: ${what}; PostgreSQL:\n${cluster.output().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A create whose transaction waits inside the server on a row lock that this test holds: a request
 * holding one of the server's connections when the database goes away. Answers its answer.
 */
async function requestInsideTransaction(): Promise<{ answer: Promise<HttpAnswer> }> {
  const [locker, watcher] = [new pg.Client(databaseUrl), new pg.Client(databaseUrl)];
  for (const client of [locker, watcher]) {
    client.on("error", () => {}); // the stop ends them
    await client.connect();
  }
  await locker.query("begin");
  await locker.query("select 1 from runs where experiment_id = 'restart' and variation = 'held' for update");
  const answer = call("POST", "/v1/experiments/restart/variations/held/runs/0/assets", {
    asset_type: "note",
    content: {},
  });
  await until("the server's transaction waits for the lock", async () => {
    const { rows } = await watcher.query(
      "select 1 from pg_stat_activity where application_name = 'methodic' and wait_event_type = 'Lock'",
    );
    return rows.length > 0;
  });
  void answer.finally(() => Promise.all([locker.end(), watcher.end()]).catch(() => {}));
  return { answer };
}

test("PostgreSQL restarted under 64 heartbeating clients: 503 unavailable meanwhile, never a 500 or a hang, every success in the database", {
  timeout: 300_000,
}, async () => {
  expect((await call("POST", "/v1/experiments", { id: "restart" })).status).toBe(201);
  for (let run = 0; run < RUNS; run++) {
    expect((await call("POST", `/v1/experiments/restart/variations/v/runs/${run}/start`)).status).toBe(200);
  }
  expect((await call("POST", "/v1/experiments/restart/variations/held/runs/0/start")).status).toBe(200);

  let phase: Phase = "up";
  let running = true;
  /** Each loop's answers, as they come. */
  const loop = (count: number, request: (i: number, n: number) => Promise<HttpAnswer>) => {
    const answers: Answer[][] = Array.from({ length: count }, () => []);
    const done = answers.map(async (mine, i) => {
      for (let n = 0; running; n++) {
        const sent = phase;
        const answer = await request(i, n);
        mine.push({ ...answer, phase: sent === phase ? sent : "changing" });
        await new Promise((resolve) => setTimeout(resolve, PACE_MS));
      }
    });
    return { answers, done };
  };
  const beats = loop(RUNS, (run) => call("POST", `/v1/experiments/restart/variations/v/runs/${run}/heartbeat`));
  // A few clients whose requests are transactions (a connection held across statements), beside them.
  const notes = loop(WRITERS, (run, n) =>
    call("POST", `/v1/experiments/restart/variations/v/runs/${run}/assets`, { asset_type: "note", content: { n } }),
  );
  const everyClient = (what: string, seen: (a: Answer) => boolean, times = 1) =>
    until(what, () => [...beats.answers, ...notes.answers].every((mine) => mine.filter(seen).length >= times));

  try {
    // A clean restart (sessions ended by the server), then a crash (recovery at the start).
    for (const mode of ["fast", "immediate"] as const) {
      phase = "up";
      await everyClient(`every client succeeds before the ${mode} stop`, (a) => a.phase === "up" && a.status < 300);
      const held = await requestInsideTransaction();
      phase = "stopping";
      await cluster.stop(mode);
      phase = "down";
      const heldAnswer = await held.answer;
      expect(heldAnswer.status, JSON.stringify(heldAnswer)).toBe(503);
      expect(heldAnswer.body.error.code).toBe("unavailable");
      await everyClient(`every client hears of the ${mode} stop`, (a) => a.phase === "down", 2);
      phase = "starting";
      await cluster.start();
      phase = "back";
      await everyClient(`every client succeeds after the ${mode} restart`, (a) => a.phase === "back" && a.status < 300);
    }
  } finally {
    running = false;
    await Promise.all([...beats.done, ...notes.done]);
  }

  for (const [answers, success] of [
    [beats.answers.flat(), 200],
    [notes.answers.flat(), 201],
  ] as const) {
    const neither = answers.filter((a) => a.status !== success && a.status !== 503);
    expect(neither.slice(0, 3), `${neither.length} answers neither ${success} nor 503`).toEqual([]);
    for (const a of answers.filter((a) => a.status === 503)) {
      expect(a.body).toEqual({ error: { code: "unavailable", message: UNAVAILABLE, request_id: a.requestId } });
    }
    // With the database gone, nothing can succeed.
    expect(answers.filter((a) => a.phase === "down" && a.status !== 503)).toEqual([]);
  }
  expect(server.child.exitCode, server.output().slice(-3000)).toBeNull();
  expect(server.output()).not.toMatch(/"msg":"request failed"/);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // No heartbeat answered 200 is missing: each run's row holds at least the latest one it was told of.
    const { rows } = await client.query<{ run: number; state: string; last_heartbeat_at: Date }>(
      "select run, state, last_heartbeat_at from runs where experiment_id = 'restart' and variation = 'v' order by run",
    );
    expect(rows).toHaveLength(RUNS);
    for (const row of rows) {
      const told = beats.answers[row.run]!.filter((a) => a.status === 200);
      expect(row.state).toBe("running");
      expect(row.last_heartbeat_at.getTime(), `run ${row.run}`).toBeGreaterThanOrEqual(
        Math.max(...told.map((a) => Date.parse(a.body.last_heartbeat_at))),
      );
    }
    // Nor any asset answered 201.
    const created = notes.answers
      .flat()
      .filter((a) => a.status === 201)
      .map((a) => a.body.asset.id);
    const stored = await client.query<{ id: string }>("select id from assets where id = any($1::uuid[])", [created]);
    expect(stored.rows.map((r) => r.id).sort()).toEqual([...created].sort());
  } finally {
    await client.end();
  }
  const all = [...beats.answers.flat(), ...notes.answers.flat()];
  const by = (ok: (status: number) => boolean) => all.filter((a) => ok(a.status)).length;
  console.log(`${all.length} requests over two restarts: ${by((s) => s < 300)} succeeded, ${by((s) => s === 503)} 503`);
});
