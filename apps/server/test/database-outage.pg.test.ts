import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createDatabase } from "../src/testing/index.js";
import { asAdmin, startApp } from "./support/app.js";
import { TcpProxy } from "./support/tcp-proxy.js";

describe("while PostgreSQL is unreachable", () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  let proxy: TcpProxy;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createDatabase();
    drop = database.drop;
    const url = new URL(database.url!);
    proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
    await proxy.start();
    url.host = `127.0.0.1:${proxy.port}`;
    ({ app, close } = await startApp({}, { databaseTarget: { driver: "postgres", url: url.toString() } }));
  });

  afterAll(async () => {
    await close?.();
    await proxy?.stop();
    await drop?.();
  });

  test("the API answers 503 unavailable, readyz says so, and both recover when it returns", async () => {
    const created = await app.inject({
      headers: asAdmin,
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "outage" },
    });
    expect(created.statusCode).toBe(201);

    await proxy.stop();
    for (const [method, url] of [
      ["GET", "/v1/experiments/outage"],
      ["GET", "/v1/experiments"],
      ["PUT", "/v1/experiments/outage/variations/v"],
    ] as const) {
      const res = await app.inject({ headers: asAdmin, method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(503);
      expect(res.json()).toEqual({
        error: {
          code: "unavailable",
          message: "The database is unreachable; try again shortly.",
          request_id: res.headers["x-request-id"],
        },
      });
      expect(res.body).not.toMatch(/ECONNREFUSED|at \w+ \(/);
    }
    const notReady = await app.inject({ headers: asAdmin, method: "GET", url: "/readyz" });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().error).toMatchObject({
      code: "unavailable",
      details: { checks: { database: "unavailable", storage: "ok" } },
    });
    const alive = await app.inject({ headers: asAdmin, method: "GET", url: "/healthz" });
    expect(alive.statusCode).toBe(200);

    await proxy.start();
    const back = await app.inject({ headers: asAdmin, method: "GET", url: "/v1/experiments/outage" });
    expect(back.statusCode).toBe(200);
    expect(back.json().id).toBe("outage");
    const ready = await app.inject({ headers: asAdmin, method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
  });

  test("connections dropped mid-flight are 503 too, and the pool heals", async () => {
    // Open pool connections, then cut them under the pool's feet.
    await Promise.all(
      Array.from({ length: 5 }, () => app.inject({ headers: asAdmin, method: "GET", url: "/v1/experiments" })),
    );
    await proxy.stop();
    await proxy.start();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => app.inject({ headers: asAdmin, method: "GET", url: "/v1/experiments/outage" })),
    );
    for (const res of results) expect([200, 503]).toContain(res.statusCode);
    const after = await app.inject({ headers: asAdmin, method: "GET", url: "/v1/experiments/outage" });
    expect(after.statusCode).toBe(200);
  });
});
