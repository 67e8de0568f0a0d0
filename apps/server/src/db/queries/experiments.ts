import { eq, getTableColumns, param, sql } from "drizzle-orm";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { experiments } from "../schema/index.js";
import { before, newestFirst, pageWindow, selectPage, touchIfChanged } from "./util.js";

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

const listOrder = { createdAt: experiments.createdAt, id: experiments.id };

export function listExperiments(db: Db, limit: number, after: SortKey | undefined): Promise<PageRows<ExperimentRow>> {
  const query = db
    .select({ ...getTableColumns(experiments), ...pageWindow(experiments.listedBytes, listOrder) })
    .from(experiments)
    .where(before(listOrder, after))
    .orderBy(...newestFirst(listOrder))
    .limit(limit);
  return selectPage(db, query, listOrder);
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
