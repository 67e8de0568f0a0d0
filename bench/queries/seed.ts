import { round } from "../lib/stats.js";
import type { SqlConnection } from "./database.js";

/**
 * The data set, made by set-based SQL (generate_series) straight into a database that the real server
 * migrated: one experiment, `variations` variations, `runs` runs spread evenly over them, `assets` assets
 * spread evenly over the runs. Every constraint, index and foreign key of the schema stays in place.
 */
export interface Scale {
  variations: number;
  runs: number;
  assets: number;
}

export const EXPERIMENT = "bench-queries";

/** v0000, v0001, ...: the variation ids the seed uses. */
export function variationIds(scale: Scale): string[] {
  const width = Math.max(4, String(scale.variations - 1).length);
  return Array.from({ length: scale.variations }, (_, v) => `v${String(v).padStart(width, "0")}`);
}

export function checkScale(scale: Scale): string | undefined {
  if (scale.runs % scale.variations !== 0) return "runs must be a multiple of variations";
  if (scale.assets % scale.runs !== 0) return "assets must be a multiple of runs";
  return undefined;
}

/**
 * The statements, in order. Runs start a minute apart, round-robin over the variations (so that a
 * variation's runs are interleaved with every other's, as in a sweep); each run's assets follow it every
 * five minutes, cycling through the asset types: an environment snapshot and metrics (inline JSON), six
 * checkpoints (one to three files each), an eval and samples (files). About 2% of the file assets are
 * pending and 0.4% aborted; the rest, and every inline asset, are ready. The last run of a variation is
 * running in a third of the variations; of the rest, 5% failed, 5% lost, the others succeeded.
 */
export function seedStatements(scale: Scale): string[] {
  const { variations: V, runs: R, assets: A } = scale;
  const K = A / R;
  const width = Math.max(4, String(V - 1).length);
  const variation = (n: string) => `'v' || lpad((${n})::text, ${width}, '0')`;
  // The first run starts R minutes (plus the assets of the last run) before now.
  const base = `(date_trunc('second', now()) - interval '1 minute' * ${R} - interval '5 minutes' * ${K})`;
  return [
    // This session only: no JIT compilation (it costs seconds on these one-off statements), and room to
    // sort the assets by created_at in memory.
    "set jit = off",
    "set work_mem = '512MB'",
    `insert into experiments (id, name, description, wandb_entity, wandb_project, config, created_at, updated_at)
     values ('${EXPERIMENT}', 'Queries at scale', 'seeded by bench/queries', 'methodic', 'bench-queries',
             '{"lr": 0.0003, "batch_size": 64}', ${base} - interval '1 day', ${base} - interval '1 day')`,

    `insert into variations (experiment_id, variation, description, config, created_at, updated_at)
     select '${EXPERIMENT}', ${variation("v")}, 'sweep point ' || v,
            jsonb_build_object('lr', 0.0001 * (1 + v % 10), 'seed', v), t, t
     from (select v, ${base} - interval '1 hour' + interval '1 second' * v as t from generate_series(0, ${V - 1}) v) s`,

    `insert into runs (experiment_id, variation, run, state, started_at, finished_at, last_heartbeat_at,
                       wandb_run_id, wandb_entity, wandb_project, wandb_dashboard_url, summary,
                       error_message, error_details, created_at, updated_at)
     select '${EXPERIMENT}', ${variation(`g % ${V}`)}, g / ${V}, state::run_state, t,
            case when state = 'running' then null else t + interval '4 hours' end,
            case when state = 'running' then now() else t + interval '4 hours' end,
            'r' || g, 'methodic', 'bench-queries', 'https://wandb.ai/methodic/bench-queries/runs/r' || g,
            case when state = 'succeeded' then jsonb_build_object('loss', round((1.0 / (2 + g % 97))::numeric, 5), 'steps', 5000) end,
            case when state = 'failed' then 'CUDA out of memory' end,
            case when state = 'failed' then '{"exit_code": 1}'::jsonb end,
            t, t
     from (
       select g, ${base} + interval '1 minute' * g as t,
              case when g >= ${R - V} and g % 3 = 0 then 'running'
                   when g % 20 = 7 then 'failed'
                   when g % 20 = 13 then 'lost'
                   else 'succeeded' end as state
       from generate_series(0, ${R - 1}) g
     ) s`,

    // h: 32 hex digits per asset, for ids, hashes and the pseudo-random choices (b: an integer 0..255;
    // n: a file asset's one to three files, of sizes s1..s3). No correlated subquery; each `offset 0`
    // keeps the planner from inlining a level into the next, which would recompute h and b at every use.
    `insert into assets (id, experiment_id, variation, run, asset_type, name, state, inline, content,
                         asset_config, components, size, uploaded_size, part_size, created_at, finalized_at)
     select
       -- a UUIDv7 of created_at, as the server makes them
       (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
       '${EXPERIMENT}', ${variation(`g % ${V}`)}, g / ${V}, asset_type,
       case when asset_type = 'checkpoint' then 'step-' || (k * 1000) end,
       state::asset_state, inline, content,
       case when asset_type = 'checkpoint' then jsonb_build_object('step', k * 1000) else '{}'::jsonb end,
       case when inline then '[]'::jsonb
            when n = 1 then jsonb_build_array(f1)
            when n = 2 then jsonb_build_array(f1, f2)
            else jsonb_build_array(f1, f2, f3) end,
       size, case when state = 'ready' then size else 0 end,
       case when inline then null else 67108864 end,
       t, case when state = 'ready' then t + interval '30 seconds' end
     from (
       select *,
              case when inline then octet_length(content::text)
                   else s1 + case when n >= 2 then s2 else 0 end + case when n >= 3 then s3 else 0 end end as size,
              jsonb_build_object('path', p1, 'size', s1, 'sha256', md5(h || '1') || md5('1' || h)) as f1,
              jsonb_build_object('path', p2, 'size', s2, 'sha256', md5(h || '2') || md5('2' || h)) as f2,
              jsonb_build_object('path', p3, 'size', s3, 'sha256', md5(h || '3') || md5('3' || h)) as f3
       from (
         select *,
                case when inline or b >= 6 then 'ready' when b < 5 then 'pending' else 'aborted' end as state,
                case asset_type
                  when 'environment' then jsonb_build_object('python', '3.11.9', 'torch', '2.4.0', 'cuda', '12.4',
                                                             'host', 'gpu-' || (b % 16), 'git_sha', substr(h, 1, 12))
                  when 'metrics' then jsonb_build_object('loss', round((1.0 / (2 + b))::numeric, 5), 'step', k * 1000)
                end as content,
                1 + b % 3 as n,
                case asset_type when 'checkpoint' then 'model.safetensors' when 'eval' then 'eval.jsonl' else 'samples/0.png' end as p1,
                case asset_type when 'checkpoint' then 'optimizer.pt' when 'eval' then 'eval-details.jsonl' else 'samples/1.png' end as p2,
                case asset_type when 'checkpoint' then 'trainer_state.json' when 'eval' then 'eval-summary.json' else 'samples/2.png' end as p3,
                case asset_type when 'checkpoint' then 400000000 + b * 1000 else 4096 + b * 37 end::bigint as s1,
                case asset_type when 'checkpoint' then 800000000 + b * 1000 else 8192 + b * 37 end::bigint as s2,
                (4096 + b * 37)::bigint as s3
         from (
           select g, k, t, h, ('x' || substr(h, 20, 2))::bit(8)::int as b,
                  (array['environment', 'checkpoint', 'checkpoint', 'checkpoint', 'checkpoint', 'checkpoint',
                         'checkpoint', 'metrics', 'eval', 'samples'])[1 + k % 10] as asset_type,
                  (k % 10) in (0, 7) as inline
           from (
             select g, k, ${base} + interval '1 minute' * g + interval '5 minutes' * k as t, md5(g || ':' || k) as h
             from generate_series(0, ${R - 1}) g, generate_series(0, ${K - 1}) k
             offset 0
           ) s
           offset 0
         ) s
         offset 0
       ) s
     ) s
     order by t`,

    "analyze experiments, variations, runs, assets",
  ];
}

/** The data set as seeded: how long each statement took, what it holds, how large its tables are. */
export interface DataSet {
  /** Seconds per seed statement, and in all. */
  seed: { statements: { what: string; seconds: number }[]; seconds: number };
  sizes: Record<string, string>;
  counts: Record<string, number>;
}

/** Runs the seed statements (timing each), then reads back what they made. */
export async function seed(sql: SqlConnection, scale: Scale): Promise<DataSet> {
  const statements: { what: string; seconds: number }[] = [];
  const t0 = performance.now();
  for (const statement of seedStatements(scale)) {
    const t = performance.now();
    await sql.query(statement);
    const what = /^\s*(insert into \w+|analyze|set \w+)/.exec(statement)?.[1] ?? statement.slice(0, 30);
    statements.push({ what, seconds: round((performance.now() - t) / 1000, 2) });
  }
  const seeded = { statements, seconds: round((performance.now() - t0) / 1000, 2) };
  const counts = await countRows(sql);
  return { seed: seeded, sizes: await tableSizes(sql), counts };
}

async function countRows(sql: SqlConnection): Promise<Record<string, number>> {
  const [row] = await sql.query<Record<string, string>>(
    `select (select count(*) from variations) as variations, (select count(*) from runs) as runs,
            (select count(*) from assets) as assets,
            (select count(*) from assets where state = 'ready') as ready_assets,
            (select count(*) from assets where state = 'pending') as pending_assets`,
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function tableSizes(sql: SqlConnection): Promise<Record<string, string>> {
  const rows = await sql.query<{ name: string; size: string }>(
    `select relname as name, pg_size_pretty(pg_total_relation_size(oid)) as size from pg_class
     where relname in ('runs', 'assets') and relkind = 'r'`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.size]));
}
