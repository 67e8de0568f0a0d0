import type { SqlConnection } from "./database.js";
import { EXPERIMENT } from "./seed.js";

/**
 * The SQL each measured route runs, as drizzle sends it (apps/server/src/db/queries: latestReady,
 * listAssets, listRuns; captured with drizzle's logger), with the parameters written in. The server
 * sends them as unnamed prepared statements, which PostgreSQL plans for their values each time: the
 * same plan as for these literals. A non-empty answer needs no other query (an empty one checks that
 * the variation exists), and the token is cached after its first use.
 */
export function routeQueries(variation: string): { route: string; sql: string }[] {
  const assetColumns = `"id", "experiment_id", "variation", "run", "asset_type", "name", "state", "inline", "content", "asset_config", "components", "size", "uploaded_size", "part_size", "created_at", "finalized_at"`;
  const runColumns = `"experiment_id", "variation", "run", "state", "started_at", "finished_at", "last_heartbeat_at", "wandb_run_id", "wandb_entity", "wandb_project", "wandb_dashboard_url", "summary", "error_message", "error_details", "created_at", "updated_at"`;
  const exp = `'${EXPERIMENT}'`;
  const v = `'${variation}'`;
  return [
    {
      route: "outputs/latest?asset_type=checkpoint",
      sql: `select ${assetColumns} from "assets" where ("assets"."experiment_id" = ${exp} and "assets"."variation" = ${v} and "assets"."asset_type" = 'checkpoint' and "assets"."state" = 'ready') order by "assets"."created_at" desc, "assets"."id" desc limit 1`,
    },
    {
      route: "outputs (first page)",
      sql: `select ${assetColumns} from "assets" where ("assets"."experiment_id" = ${exp} and "assets"."variation" = ${v}) order by "assets"."created_at" desc, "assets"."id" desc limit 101`,
    },
    {
      route: "variation runs (first page)",
      sql: `select ${runColumns} from "runs" where ("runs"."experiment_id" = ${exp} and "runs"."variation" = ${v}) order by "runs"."created_at" desc, "runs"."variation" desc, "runs"."run" desc limit 101`,
    },
    {
      route: "experiment runs (first page)",
      sql: `select ${runColumns} from "runs" where "runs"."experiment_id" = ${exp} order by "runs"."created_at" desc, "runs"."variation" desc, "runs"."run" desc limit 101`,
    },
  ];
}

export interface Plan {
  route: string;
  sql: string;
  plan: string;
}

/** EXPLAIN (ANALYZE, BUFFERS) of each query, run twice: the second plan, with warm caches, is kept. */
export async function explainAll(db: SqlConnection, variation: string): Promise<Plan[]> {
  const plans: Plan[] = [];
  for (const { route, sql } of routeQueries(variation)) {
    let rows: { "QUERY PLAN": string }[] = [];
    for (let i = 0; i < 2; i++) rows = await db.query(`explain (analyze, buffers) ${sql}`);
    plans.push({ route, sql, plan: rows.map((row) => row["QUERY PLAN"]).join("\n") });
  }
  return plans;
}
