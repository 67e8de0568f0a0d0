import { desc, eq, getTableColumns, param, sql } from "drizzle-orm";
import type { SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { experiments } from "../schema/index.js";
import { before, touchIfChanged } from "./util.js";

export type ExperimentRow = typeof experiments.$inferSelect;
export type NewExperiment = typeof experiments.$inferInsert;
export type ExperimentChanges = Partial<
  Pick<ExperimentRow, "name" | "description" | "wandbEntity" | "wandbProject" | "config">
>;

/** Undefined when an experiment with that id exists already. */
export async function insertExperiment(db: Db, values: NewExperiment): Promise<ExperimentRow | undefined> {
  const [row] = await db.insert(experiments).values(values).onConflictDoNothing().returning();
  return row;
}

export async function findExperiment(db: Db, id: string): Promise<ExperimentRow | undefined> {
  const [row] = await db.select().from(experiments).where(eq(experiments.id, id));
  return row;
}

export function listExperiments(db: Db, limit: number, after: SortKey | undefined): Promise<ExperimentRow[]> {
  return db
    .select()
    .from(experiments)
    .where(before([experiments.createdAt, experiments.id], after))
    .orderBy(desc(experiments.createdAt), desc(experiments.id))
    .limit(limit);
}

/** Undefined when the experiment does not exist. */
export async function updateExperiment(
  db: Db,
  id: string,
  changes: ExperimentChanges,
): Promise<ExperimentRow | undefined> {
  const columns = getTableColumns(experiments);
  const changed = Object.entries(changes).map(([key, value]) => {
    const column = columns[key as keyof ExperimentChanges];
    return sql`${column} is distinct from ${param(value, column)}`;
  });
  const [row] = await db
    .update(experiments)
    .set({ ...changes, updatedAt: touchIfChanged(experiments.updatedAt, changed) })
    .where(eq(experiments.id, id))
    .returning();
  return row;
}
