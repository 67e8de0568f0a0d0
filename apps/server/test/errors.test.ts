import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildApp } from "../src/app.js";
import { testConfig, testDatabase } from "./support/app.js";

describe("an unexpected failure", () => {
  let app: FastifyInstance;
  let drop: () => Promise<void>;
  const logged: string[] = [];

  beforeAll(async () => {
    const database = await testDatabase();
    drop = database.drop;
    app = buildApp({
      config: testConfig(),
      database: database.target,
      logger: { level: "error", stream: { write: (line: string) => logged.push(line) } },
    });
    // A route of the real app whose handler fails the way a bug would.
    app.get("/v1/broken", async () => {
      throw new Error("secret internals at /srv/app/handler.ts:12");
    });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await drop();
  });

  test("answers 500 internal with the error body and no internals, and logs the cause", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/broken" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: "internal", message: "The server failed to handle this request; it has been logged." },
    });
    expect(res.body).not.toContain("secret");
    expect(res.body).not.toContain("handler.ts");
    expect(logged.join("")).toContain("secret internals");
  });
});
