import type { RunCounts } from "@methodic/contract";
import { and, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { variations } from "../schema/index.js";
import { before, newestFirst, pageWindow, selectPage, touchIfChanged } from "./util.js";

export type VariationRow = typeof variations.$inferSelect & { runCounts: RunCounts };
export type VariationChanges = Partial<Pick<VariationRow, "description" | "config">>;

// Evaluated per returned row only (after the LIMIT), through the runs primary key.
const runCounts = sql<RunCounts>`(
  select jsonb_build_object(
    'running', count(*) filter (where r.state = 'running'),
    'succeeded', count(*) filter (where r.state = 'succeeded'),
    'failed', count(*) filter (where r.state = 'failed'),
    'lost', count(*) filter (where r.state = 'lost'))
  from runs r
  where r.experiment_id = variations.experiment_id and r.variation = variations.variation
)`;

const withRunCounts = { ...getTableColumns(variations), runCounts };

/**
 * Creates the variation or applies the given changes to it; `created` tells which. The experiment
 * must exist (a foreign key violation otherwise).
 */
export async function upsertVariation(
  db: Db,
  experimentId: string,
  variation: string,
  changes: VariationChanges,
): Promise<{ row: VariationRow; created: boolean }> {
  const changed: SQL[] = [];
  if (changes.description !== undefined)
    changed.push(sql`${variations.description} is distinct from excluded.description`);
  if (changes.config !== undefined) changed.push(sql`${variations.config} is distinct from excluded.config`);
  const [row] = await db
    .insert(variations)
    .values({ experimentId, variation, ...changes })
    .onConflictDoUpdate({
      target: [variations.experimentId, variations.variation],
      set: {
        ...(changes.description !== undefined && { description: sql`excluded.description` }),
        ...(changes.config !== undefined && { config: sql`excluded.config` }),
        updatedAt: touchIfChanged(variations.updatedAt, changed),
      },
    })
    // xmax is 0 only on a freshly inserted row version.
    .returning({ ...getTableColumns(variations), runCounts, created: sql<boolean>`(xmax = 0)` });
  if (!row) throw new Error("upsert returned no row");
  const { created, ...rest } = row;
  return { row: rest, created };
}

/** Creates the variation if it does not exist yet, leaving an existing one as it is. */
export async function insertVariation(db: Db, experimentId: string, variation: string): Promise<void> {
  await db.insert(variations).values({ experimentId, variation }).onConflictDoNothing();
}

export async function findVariation(
  db: Db,
  experimentId: string,
  variation: string,
): Promise<VariationRow | undefined> {
  const [row] = await db
    .select(withRunCounts)
    .from(variations)
    .where(and(eq(variations.experimentId, experimentId), eq(variations.variation, variation)));
  return row;
}

const listOrder = { createdAt: variations.createdAt, variation: variations.variation };

export function listVariations(
  db: Db,
  experimentId: string,
  limit: number,
  after: SortKey | undefined,
): Promise<PageRows<VariationRow>> {
  const query = db
    // A subquery's columns need names: the page query selects from one.
    .select({
      ...withRunCounts,
      runCounts: runCounts.as("run_counts"),
      ...pageWindow(variations.listedBytes, listOrder),
    })
    .from(variations)
    .where(and(eq(variations.experimentId, experimentId), before(listOrder, after)))
    .orderBy(...newestFirst(listOrder))
    .limit(limit);
  return selectPage(db, query, listOrder);
}
