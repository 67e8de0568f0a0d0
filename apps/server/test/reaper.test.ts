import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { asAdmin, startApp } from "./support/app.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lost runs", () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ app, close } = await startApp({ METHODIC_HEARTBEAT_TIMEOUT_S: "1", METHODIC_REAPER_INTERVAL_S: "1" }));
    await app.inject({ method: "POST", url: "/v1/experiments", headers: asAdmin, payload: { id: "reap" } });
  });

  afterAll(() => close());

  const run = (n: number, action = "") =>
    app.inject({
      method: action ? "POST" : "GET",
      url: `/v1/experiments/reap/variations/v/runs/${n}${action && `/${action}`}`,
      headers: asAdmin,
    });

  test("a silent run is marked lost within twice the timeout; a heartbeating one never is", async () => {
    await run(0, "start");
    await run(1, "start");
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) {
      await run(1, "heartbeat");
      await sleep(200);
    }
    expect((await run(0)).json().state).toBe("lost");
    expect((await run(1)).json().state).toBe("running");
    const variation = await app.inject({ method: "GET", url: "/v1/experiments/reap/variations/v", headers: asAdmin });
    expect(variation.json().run_counts).toEqual({ running: 1, succeeded: 0, failed: 0, lost: 1 });
  });

  /** Makes a run look silent for an hour; the reaper's next pass (within a second) sees it. */
  async function silence(n: number) {
    await app.db.execute(
      sql`update runs set last_heartbeat_at = now() - interval '1 hour' where experiment_id = 'reap' and run = ${n}`,
    );
  }

  async function stateWithin(n: number, state: string, ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    let seen = (await run(n)).json().state;
    while (seen !== state && Date.now() < deadline) {
      await sleep(100);
      seen = (await run(n)).json().state;
    }
    return seen;
  }

  test("a heartbeat revives a lost run, a start leaves it running, and it can still finish", async () => {
    await run(2, "start");
    await silence(2);
    expect(await stateWithin(2, "lost")).toBe("lost");
    const beat = await run(2, "heartbeat");
    expect(beat.statusCode).toBe(200);
    expect(beat.json().state).toBe("running");

    await silence(2);
    expect(await stateWithin(2, "lost")).toBe("lost");
    expect((await run(2, "start")).json().state).toBe("running");

    await silence(2);
    expect(await stateWithin(2, "lost")).toBe("lost");
    const done = await run(2, "succeed");
    expect(done.statusCode).toBe(200);
    expect(done.json().state).toBe("succeeded");
  });

  test("finished runs are never marked lost", async () => {
    await run(3, "start");
    await run(3, "fail");
    await silence(3);
    expect(await stateWithin(3, "lost", 2_500)).toBe("failed");
  });
});
