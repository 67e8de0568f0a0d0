import type { RunState } from "@methodic/contract";
import { and, eq, getTableColumns, inArray, lt, param, sql } from "drizzle-orm";
import type { PageRows, SortKey } from "../../lib/cursor.js";
import type { Db } from "../client.js";
import { runs } from "../schema/index.js";
import { before, newestFirst, pageWindow, selectPage } from "./util.js";

export type RunRow = typeof runs.$inferSelect;
export interface RunKey {
  experimentId: string;
  variation: string;
  run: number;
}
export interface WandbColumns {
  wandbRunId: string;
  wandbEntity: string;
  wandbProject: string;
  wandbDashboardUrl: string;
}

const LIVE: RunState[] = ["running", "lost"];

const isRun = (key: RunKey) =>
  and(eq(runs.experimentId, key.experimentId), eq(runs.variation, key.variation), eq(runs.run, key.run));

/** Undefined when the run exists already. */
export async function insertRun(db: Db, key: RunKey, wandb: WandbColumns | null): Promise<RunRow | undefined> {
  const [row] = await db
    .insert(runs)
    .values({ ...key, ...wandb })
    .onConflictDoNothing()
    .returning();
  return row;
}

/** `lock` holds the row until the transaction ends: "update" to change it, "share" to keep it as it is. */
export async function findRun(db: Db, key: RunKey, lock?: "update" | "share"): Promise<RunRow | undefined> {
  const query = db.select().from(runs).where(isRun(key));
  const [row] = await (lock ? query.for(lock) : query);
  return row;
}

/** A start of a running or lost run: running again, alive now, and the W&B pointer if it had none. */
export async function restartRun(db: Db, key: RunKey, wandb: WandbColumns | undefined): Promise<RunRow> {
  const [row] = await db
    .update(runs)
    .set({
      ...wandb,
      state: "running",
      lastHeartbeatAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(isRun(key))
    .returning();
  if (!row) throw new Error("restartRun: the run vanished inside its transaction");
  return row;
}

/**
 * The hot path: one indexed UPDATE. Undefined when the run does not exist or has finished; the caller
 * tells which only then.
 */
export async function heartbeat(db: Db, key: RunKey): Promise<{ state: RunState; lastHeartbeatAt: Date } | undefined> {
  const [row] = await db
    .update(runs)
    .set({ state: "running", lastHeartbeatAt: sql`now()` })
    .where(and(isRun(key), inArray(runs.state, LIVE)))
    .returning({ state: runs.state, lastHeartbeatAt: runs.lastHeartbeatAt });
  return row;
}

export interface Beat extends RunKey {
  state: RunState;
  lastHeartbeatAt: Date;
}

/**
 * heartbeat() for many runs in one statement (and one commit): the runs that exist and are live come
 * back, beaten; the others are left out. Keys go in as three arrays, so the statement text is always
 * the same whatever the count.
 */
export async function heartbeatMany(db: Db, keys: RunKey[]): Promise<Beat[]> {
  const result = (await db.execute(sql`
    update runs set state = 'running', last_heartbeat_at = now()
    from unnest(
      ${param(keys.map((k) => k.experimentId))}::text[],
      ${param(keys.map((k) => k.variation))}::text[],
      ${param(keys.map((k) => k.run))}::int[]
    ) as beat(experiment_id, variation, run)
    where runs.experiment_id = beat.experiment_id and runs.variation = beat.variation and runs.run = beat.run
      and runs.state in ('running', 'lost')
    returning runs.experiment_id, runs.variation, runs.run, runs.state,
      to_char(runs.last_heartbeat_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_heartbeat_at
  `)) as unknown as {
    rows: { experiment_id: string; variation: string; run: number; state: RunState; last_heartbeat_at: string }[];
  };
  return result.rows.map((row) => ({
    experimentId: row.experiment_id,
    variation: row.variation,
    run: Number(row.run),
    state: row.state,
    lastHeartbeatAt: new Date(row.last_heartbeat_at),
  }));
}

export type Ending =
  | { state: "succeeded"; summary: Record<string, unknown> | null }
  | { state: "failed"; errorMessage: string; errorDetails: Record<string, unknown> | null };

/** Running or lost → the ending's state. Undefined when the run is missing or already finished. */
export async function finishRun(db: Db, key: RunKey, ending: Ending): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ ...ending, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(isRun(key), inArray(runs.state, LIVE)))
    .returning();
  return row;
}

export interface RunFilter {
  experimentId: string;
  variation?: string | undefined;
  state?: RunState | undefined;
}

const listOrder = { createdAt: runs.createdAt, variation: runs.variation, run: runs.run };

export function listRuns(
  db: Db,
  filter: RunFilter,
  limit: number,
  after: SortKey | undefined,
): Promise<PageRows<RunRow>> {
  const query = db
    .select({ ...getTableColumns(runs), ...pageWindow(runs.listedBytes, listOrder) })
    .from(runs)
    .where(
      and(
        eq(runs.experimentId, filter.experimentId),
        filter.variation === undefined ? undefined : eq(runs.variation, filter.variation),
        filter.state === undefined ? undefined : eq(runs.state, filter.state),
        before(listOrder, after),
      ),
    )
    .orderBy(...newestFirst(listOrder))
    .limit(limit);
  return selectPage(db, query, listOrder);
}

/**
 * Marks lost every running run silent for longer than the timeout, in one conditional UPDATE: safe
 * with any number of server instances, since a run is only ever moved from running, and a heartbeat
 * committed first makes the condition false.
 */
export async function reapLostRuns(db: Db, timeoutS: number): Promise<RunKey[]> {
  const { experimentId, variation, run } = getTableColumns(runs);
  return db
    .update(runs)
    .set({ state: "lost", updatedAt: sql`now()` })
    .where(and(eq(runs.state, "running"), lt(runs.lastHeartbeatAt, sql`now() - make_interval(secs => ${timeoutS})`)))
    .returning({ experimentId, variation, run });
}
