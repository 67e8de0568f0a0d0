import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createDatabase, type TestApp } from "../src/testing/index.js";
import { asAdmin, startApp } from "./support/app.js";
import { captureLogs } from "./support/logs.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let started: TestApp[] = [];
let apps: FastifyInstance[] = [];
let logs: ReturnType<typeof captureLogs>[] = [];
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createDatabase();
  drop = database.drop;
  logs = [captureLogs(), captureLogs()];
  started = await Promise.all(
    logs.map((log) =>
      startApp(
        { METHODIC_HEARTBEAT_TIMEOUT_S: "1", METHODIC_REAPER_INTERVAL_S: "1" },
        { databaseTarget: database.target, logger: { level: "info", stream: log.stream } },
      ),
    ),
  );
  apps = started.map((s) => s.app);
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.close()));
  await drop();
});

test("two instances reaping one database mark a silent run lost exactly once, and never a live one", async () => {
  const [a, b] = apps as [FastifyInstance, FastifyInstance];
  await a.inject({ method: "POST", url: "/v1/experiments", headers: asAdmin, payload: { id: "two" } });
  const url = (n: number) => `/v1/experiments/two/variations/v/runs/${n}`;
  for (const n of [0, 1, 2]) await a.inject({ method: "POST", url: `${url(n)}/start`, headers: asAdmin });

  // Runs 1 and 2 stay alive through both instances, in turn; run 0 goes silent.
  const deadline = Date.now() + 3_500;
  for (let i = 0; Date.now() < deadline; i++) {
    const via = i % 2 === 0 ? a : b;
    await via.inject({ method: "POST", url: `${url(1)}/heartbeat`, headers: asAdmin });
    await via.inject({ method: "POST", url: `${url(2)}/heartbeat`, headers: asAdmin });
    await sleep(150);
  }

  const state = async (n: number) => (await b.inject({ method: "GET", url: url(n), headers: asAdmin })).json().state;
  expect(await state(0)).toBe("lost");
  expect(await state(1)).toBe("running");
  expect(await state(2)).toBe("running");

  const marked = logs.flatMap((log) =>
    log.entries().flatMap((entry) => (Array.isArray(entry.runs) ? (entry.runs as string[]) : [])),
  );
  expect(marked).toEqual(["two/v/0"]);
});
