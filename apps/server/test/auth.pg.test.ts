import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, test } from "vitest";
import { TOKEN_CACHE_TTL_MS } from "../src/services/tokens.service.js";
import { createDatabase, type TestApp } from "../src/testing/index.js";
import { asAdmin, startApp } from "./support/app.js";

let started: TestApp[];
let apps: FastifyInstance[];
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createDatabase();
  drop = database.drop;
  started = await Promise.all([0, 1].map(() => startApp({}, { databaseTarget: database.target })));
  apps = started.map((s) => s.app);
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.close()));
  await drop();
});

test("a token revoked on one instance fails on another within the cache's bound", async () => {
  const [a, b] = apps as [FastifyInstance, FastifyInstance];
  const created = await a.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: asAdmin,
    payload: { name: "t", scope: "read" },
  });
  const { id, token } = created.json();
  const use = (app: FastifyInstance) =>
    app.inject({ method: "GET", url: "/v1/experiments", headers: { authorization: `Bearer ${token}` } });
  expect((await use(b)).statusCode).toBe(200); // now cached on b

  await a.inject({ method: "DELETE", url: `/v1/tokens/${id}`, headers: asAdmin });
  const revokedAt = Date.now();
  expect((await use(a)).statusCode).toBe(401);

  let status = (await use(b)).statusCode;
  while (status === 200 && Date.now() - revokedAt < TOKEN_CACHE_TTL_MS + 1_000) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await use(b)).statusCode;
  }
  expect(status).toBe(401);
  expect(Date.now() - revokedAt).toBeLessThanOrEqual(TOKEN_CACHE_TTL_MS + 1_000);
});
