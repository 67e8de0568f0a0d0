import type { FastifyInstance } from "fastify";
import pg from "pg";
import { expect, test } from "vitest";
import { asAdmin, startApp } from "./support/app.js";
import { createDatabase } from "./support/postgres.js";

test("several instances starting at once on an empty database migrate it once", async () => {
  const { url, drop } = await createDatabase();
  const apps: FastifyInstance[] = [];
  try {
    const started = await Promise.all(Array.from({ length: 4 }, () => startApp({}, { driver: "postgres", url })));
    apps.push(...started);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query("select count(*)::int as n from drizzle.__drizzle_migrations");
      const { readdir } = await import("node:fs/promises");
      const files = (await readdir(new URL("../drizzle", import.meta.url))).filter((f) => f.endsWith(".sql"));
      expect(rows[0].n).toBe(files.length);
    } finally {
      await client.end();
    }
    // Every instance serves the same data.
    const created = await started[0]!.inject({
      headers: asAdmin,
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "shared" },
    });
    expect(created.statusCode).toBe(201);
    for (const app of started) {
      expect((await app.inject({ headers: asAdmin, method: "GET", url: "/v1/experiments/shared" })).statusCode).toBe(
        200,
      );
    }
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    await drop();
  }
});
