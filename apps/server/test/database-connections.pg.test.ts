import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createDatabase, startServer, type TestServer } from "../src/testing/index.js";
import { type HttpAnswer, httpCall } from "./support/http.js";
import { TcpProxy } from "./support/tcp-proxy.js";

/** The server's pool size (db/client.ts). */
const POOL_MAX = 20;
const UNAVAILABLE = "The database is unreachable; try again shortly.";

let server: TestServer;
let proxy: TcpProxy;
let databaseUrl: string;
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createDatabase();
  drop = database.drop;
  databaseUrl = database.url;
  const url = new URL(database.url);
  proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
  await proxy.start();
  url.host = `127.0.0.1:${proxy.port}`;
  server = await startServer({ databaseTarget: { driver: "postgres", url: url.toString() } });
  expect((await call("/v1/experiments", { id: "conn" })).status).toBe(201);
  expect((await call("/v1/experiments/conn/variations/v/runs/0/start")).status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await proxy?.stop();
  await drop?.();
});

const call = (path: string, body?: object) => httpCall(server.url, "POST", path, body);

/** A create: a transaction, on a connection of its own, for a request with a JSON body. */
const createNote = () => call("/v1/experiments/conn/variations/v/runs/0/assets", { asset_type: "note", content: {} });

function expectUnavailable(answer: HttpAnswer) {
  expect(answer).toEqual({
    status: 503,
    body: { error: { code: "unavailable", message: UNAVAILABLE, request_id: answer.requestId } },
    requestId: answer.requestId,
  });
}

test("a database that resets connections is a 503 to a request with a body, not a client hang-up (499)", async () => {
  // Where the database was, something that resets every connection (ECONNRESET), as a server going down may.
  proxy.resetConnections();
  try {
    // More than the pool holds: past any connection it kept, every one is a new one, reset.
    for (let i = 0; i <= POOL_MAX; i++) expectUnavailable(await createNote());
  } finally {
    proxy.restore();
  }
  expect((await createNote()).status).toBe(201);
});

test("transactions begun on connections that died idle give them back: the pool serves again once the database returns", async () => {
  // Every connection of the pool open and idle: as many creates at once as it holds, kept waiting
  // by a row lock taken here (straight to PostgreSQL) until all of them hold one.
  // Watched from another session: a transaction sees one snapshot of pg_stat_activity.
  const [locker, watcher] = [new pg.Client(databaseUrl), new pg.Client(databaseUrl)];
  await Promise.all([locker.connect(), watcher.connect()]);
  try {
    await locker.query("begin");
    await locker.query("select 1 from runs where experiment_id = 'conn' for update");
    const creates = Array.from({ length: POOL_MAX }, createNote);
    for (let tries = 0; ; tries++) {
      const { rows } = await watcher.query(
        "select count(*)::int as n from pg_stat_activity where application_name = 'methodic' and wait_event_type = 'Lock'",
      );
      if (rows[0].n === POOL_MAX) break;
      if (tries > 1200) throw new Error(`only ${rows[0].n} creates ever waited for the lock`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await locker.query("commit");
    for (const answer of await Promise.all(creates)) expect(answer.status).toBe(201);
  } finally {
    await Promise.all([locker.end(), watcher.end()]);
  }

  // The database vanishes without a word: each idle connection fails only when a BEGIN is sent on it.
  proxy.cutWhenUsed();
  for (let i = 0; i < POOL_MAX; i++) expectUnavailable(await createNote());
  await proxy.stop();
  await proxy.start();

  // None of those connections is still held: the pool has room, and the creates succeed again.
  for (let i = 0; i < 3; i++) expect((await createNote()).status).toBe(201);
});
