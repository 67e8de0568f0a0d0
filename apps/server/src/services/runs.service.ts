import {
  type ExperimentRunsQuery,
  type FailRunBody,
  type Heartbeat,
  type Page,
  type Run,
  RunIndex,
  type StartRunBody,
  type SucceedRunBody,
  VariationKey,
} from "@methodic/contract";
import type { Db } from "../db/client.js";
import { findExperiment } from "../db/queries/experiments.js";
import * as q from "../db/queries/runs.js";
import { findVariation, insertVariation } from "../db/queries/variations.js";
import { ApiError, experimentNotFound, invalidRequest, runNotFound, variationNotFound } from "../errors.js";
import { decodeCursor, toPage } from "../lib/cursor.js";
import { assertExperimentExists } from "./experiments.service.js";
import { heartbeatBatcher } from "./heartbeat-batcher.js";

export interface RunRef {
  exp: string;
  var: string;
  run: number;
}

const keyOf = (ref: RunRef): q.RunKey => ({ experimentId: ref.exp, variation: ref.var, run: ref.run });

const NO_FAILURE_MESSAGE = "The run failed without an error message.";

export function toRun(row: q.RunRow): Run {
  return {
    experiment_id: row.experimentId,
    variation: row.variation,
    run: row.run,
    state: row.state,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    last_heartbeat_at: row.lastHeartbeatAt.toISOString(),
    wandb:
      row.wandbRunId && row.wandbEntity && row.wandbProject && row.wandbDashboardUrl
        ? {
            run_id: row.wandbRunId,
            entity: row.wandbEntity,
            project: row.wandbProject,
            dashboard_url: row.wandbDashboardUrl,
          }
        : null,
    summary: row.summary,
    error:
      row.state === "failed" ? { message: row.errorMessage ?? NO_FAILURE_MESSAGE, details: row.errorDetails } : null,
  };
}

/**
 * The W&B pointer a start asks for, or null for none. Run id and entity are required once any
 * wandb_* field is given; the project falls back to the experiment's.
 */
function resolveWandb(body: StartRunBody, experimentProject: string | null): q.WandbColumns | null {
  const { wandb_run_id: runId, wandb_entity: entity, wandb_project, wandb_dashboard_url } = body;
  if ([runId, entity, wandb_project, wandb_dashboard_url].every((v) => v === undefined)) return null;
  if (runId === undefined || entity === undefined) {
    const missing = [runId === undefined && "wandb_run_id", entity === undefined && "wandb_entity"].filter(
      (f): f is string => typeof f === "string",
    );
    throw invalidRequest(`Invalid request: body.${missing[0]} is required when any wandb_* field is given.`, {
      fields: missing.map((path) => ({ in: "body", path, message: "is required when any wandb_* field is given" })),
    });
  }
  const project = wandb_project ?? experimentProject;
  if (!project) {
    throw new ApiError(
      "wandb_project_required",
      "No W&B project: pass wandb_project, or set the experiment's wandb_project.",
    );
  }
  const path = [entity, project, "runs", runId].map(encodeURIComponent).join("/");
  return {
    wandbRunId: runId,
    wandbEntity: entity,
    wandbProject: project,
    wandbDashboardUrl: wandb_dashboard_url ?? `https://wandb.ai/${path}`,
  };
}

const samePointer = (row: q.RunRow, wandb: q.WandbColumns) =>
  row.wandbRunId === wandb.wandbRunId &&
  row.wandbEntity === wandb.wandbEntity &&
  row.wandbProject === wandb.wandbProject &&
  row.wandbDashboardUrl === wandb.wandbDashboardUrl;

const runFinished = (row: q.RunRow) =>
  new ApiError(
    "run_finished",
    `Run ${row.run} of '${row.variation}' has ${row.state}; a continuation is a new run index.`,
  );

export async function startRun(db: Db, ref: RunRef, body: StartRunBody = {}): Promise<Run> {
  const key = keyOf(ref);
  return db.transaction(async (tx) => {
    const experiment = await findExperiment(tx, ref.exp);
    if (!experiment) throw experimentNotFound(ref.exp);
    const wandb = resolveWandb(body, experiment.wandbProject);
    await insertVariation(tx, ref.exp, ref.var);
    const created = await q.insertRun(tx, key, wandb);
    if (created) return toRun(created);

    // It exists: a retried start, or the same process restarted on this index.
    const existing = await q.findRun(tx, key, "update");
    if (!existing) throw new Error("startRun: the run vanished inside its transaction");
    if (existing.state === "succeeded" || existing.state === "failed") throw runFinished(existing);
    const hasPointer = existing.wandbRunId !== null;
    if (wandb && hasPointer && !samePointer(existing, wandb)) {
      throw new ApiError(
        "run_state_conflict",
        `Run ${ref.run} of '${ref.var}' is linked to W&B run ${existing.wandbEntity}/${existing.wandbProject}/${existing.wandbRunId}; a start cannot link another.`,
      );
    }
    return toRun(await q.restartRun(tx, key, hasPointer ? undefined : (wandb ?? undefined)));
  });
}

/** The most precise 404 for a run that is not there. */
export async function missingRun(db: Db, ref: RunRef): Promise<ApiError> {
  if (await findVariation(db, ref.exp, ref.var)) return runNotFound(ref.exp, ref.var, ref.run);
  if (await findExperiment(db, ref.exp)) return variationNotFound(ref.exp, ref.var);
  return experimentNotFound(ref.exp);
}

export async function heartbeat(db: Db, ref: RunRef): Promise<Heartbeat> {
  // Coalesced with the other heartbeats in flight: the hot path's cost is the database's commits.
  const beat = await heartbeatBatcher(db).beat(keyOf(ref));
  if (beat) return { state: beat.state, last_heartbeat_at: beat.lastHeartbeatAt.toISOString() };
  const row = await q.findRun(db, keyOf(ref));
  throw row ? runFinished(row) : await missingRun(db, ref);
}

async function finish(db: Db, ref: RunRef, ending: q.Ending): Promise<Run> {
  const finished = await q.finishRun(db, keyOf(ref), ending);
  if (finished) return toRun(finished);
  const row = await q.findRun(db, keyOf(ref));
  if (!row) throw await missingRun(db, ref);
  // A repeat of the same ending answers the run as it is, whatever this body says.
  if (row.state === ending.state) return toRun(row);
  throw new ApiError(
    "run_state_conflict",
    `Run ${ref.run} of '${ref.var}' has already ${row.state}; it cannot be marked ${ending.state}.`,
  );
}

export function succeedRun(db: Db, ref: RunRef, body: SucceedRunBody = {}): Promise<Run> {
  return finish(db, ref, { state: "succeeded", summary: body.summary ?? null });
}

export function failRun(db: Db, ref: RunRef, body: FailRunBody = {}): Promise<Run> {
  return finish(db, ref, {
    state: "failed",
    errorMessage: body.error ?? NO_FAILURE_MESSAGE,
    errorDetails: body.details ?? null,
  });
}

export async function getRun(db: Db, ref: RunRef): Promise<Run> {
  const row = await q.findRun(db, keyOf(ref));
  if (!row) throw await missingRun(db, ref);
  return toRun(row);
}

/**
 * Runs of an experiment, or of one variation (`query.variation`). An empty page of a missing experiment
 * is a 404; so is one of a missing variation when `scoped` (the variation's own list) rather than
 * filtered.
 */
export async function listRuns(db: Db, exp: string, query: ExperimentRunsQuery, scoped = false): Promise<Page<Run>> {
  const after = decodeCursor(query.cursor, [VariationKey, RunIndex]);
  const page = await q.listRuns(
    db,
    { experimentId: exp, variation: query.variation, state: query.state },
    query.limit,
    after,
  );
  if (page.rows.length === 0) {
    if (scoped && query.variation !== undefined && !(await findVariation(db, exp, query.variation))) {
      await assertExperimentExists(db, exp);
      throw variationNotFound(exp, query.variation);
    }
    await assertExperimentExists(db, exp);
  }
  return toPage(page, (row) => [row.createdAt, row.variation, row.run], toRun);
}

/** Marks lost the running runs silent for longer than the timeout; answers them. */
export function reapLostRuns(db: Db, heartbeatTimeoutS: number) {
  return q.reapLostRuns(db, heartbeatTimeoutS);
}
