import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { expect, test } from "vitest";
import { openDatabase } from "../src/db/client.js";

const log = { warn: () => {} };

test("a new data dir started from the build's seed is migrated, and keeps what is written to it", async () => {
  const dir = await mkdtemp(join(process.env.TEST_TMP_ROOT!, "seeded-"));
  try {
    // What `pnpm build` made, as a new data dir of the built server loads it.
    const seed = new Blob([await readFile(fileURLToPath(new URL("../dist/pglite-seed.tar.gz", import.meta.url)))]);
    const first = await openDatabase({ driver: "pglite", dataDir: join(dir, "pgdata"), from: seed }, log);
    await first.db.execute(sql`insert into experiments (id, config) values ('seeded', '{}')`);
    await first.close();

    // Reopened without the seed: the same database, not a fresh copy of the seed.
    const again = await openDatabase({ driver: "pglite", dataDir: join(dir, "pgdata") }, log);
    const { rows } = (await again.db.execute(sql`select id from experiments`)) as unknown as { rows: { id: string }[] };
    expect(rows).toEqual([{ id: "seeded" }]);
    const migrations = (await again.db.execute(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    )) as unknown as { rows: { n: number }[] };
    expect(migrations.rows[0]?.n).toBeGreaterThanOrEqual(3);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
