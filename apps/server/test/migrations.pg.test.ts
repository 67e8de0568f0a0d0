import pg from "pg";
import { expect, test } from "vitest";
import { createDatabase, type TestApp } from "../src/testing/index.js";
import { asAdmin, startApp } from "./support/app.js";

test("several instances starting at once on an empty database migrate it once", async () => {
  const { target, url, drop } = await createDatabase({ empty: true });
  const apps: TestApp[] = [];
  try {
    await Promise.all(Array.from({ length: 4 }, async () => apps.push(await startApp({}, { databaseTarget: target }))));
    const started = apps.map((s) => s.app);
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
    await Promise.all(apps.map((s) => s.close()));
    await drop();
  }
});
