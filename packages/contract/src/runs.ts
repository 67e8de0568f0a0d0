import { z } from "zod";
import {
  ExperimentId,
  ExperimentParams,
  ListQuery,
  Page,
  RUN_PATH,
  RunIndex,
  RunParams,
  Timestamp,
  VariationKey,
  VariationParams,
  WandbName,
} from "./common.js";
import { defineRoute } from "./route.js";
import { JsonObject, JsonObjectField, NO_NUL_PATTERN, text, textCheck } from "./values.js";

export const RunState = z.enum(["running", "succeeded", "failed", "lost"]).meta({ id: "RunState" });
export type RunState = z.infer<typeof RunState>;

export const WandbPointer = z
  .object({
    run_id: z.string(),
    entity: z.string(),
    project: z.string(),
    dashboard_url: z.string(),
  })
  .meta({ id: "WandbPointer", description: "The Weights & Biases run that holds this run's metrics" });
export type WandbPointer = z.infer<typeof WandbPointer>;

export const RunError = z.object({ message: z.string(), details: JsonObject.nullable() });

export const Run = z
  .object({
    experiment_id: ExperimentId,
    variation: VariationKey,
    run: RunIndex,
    state: RunState,
    created_at: Timestamp,
    started_at: Timestamp.describe("When the run was first started"),
    finished_at: Timestamp.nullable(),
    last_heartbeat_at: Timestamp,
    wandb: WandbPointer.nullable(),
    summary: JsonObject.nullable().describe("Given by succeed"),
    error: RunError.nullable().describe("Given by fail"),
  })
  .meta({ id: "Run" });
export type Run = z.infer<typeof Run>;

export const StartRunBody = z
  .strictObject({
    wandb_run_id: WandbName.optional(),
    wandb_entity: WandbName.optional(),
    wandb_project: WandbName.optional().describe("Defaults to the experiment's wandb_project"),
    wandb_dashboard_url: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .max(2048)
      .check(textCheck)
      .meta({ pattern: NO_NUL_PATTERN })
      .optional()
      .describe("Defaults to https://wandb.ai/{entity}/{project}/runs/{run_id}"),
  })
  .meta({
    id: "StartRunBody",
    // What the server checks: once any wandb_* field is given, run id and entity are both needed.
    dependentRequired: {
      wandb_run_id: ["wandb_entity"],
      wandb_entity: ["wandb_run_id"],
      wandb_project: ["wandb_run_id", "wandb_entity"],
      wandb_dashboard_url: ["wandb_run_id", "wandb_entity"],
    },
  });
export type StartRunBody = z.infer<typeof StartRunBody>;

export const Heartbeat = z.object({ state: RunState, last_heartbeat_at: Timestamp }).meta({ id: "Heartbeat" });
export type Heartbeat = z.infer<typeof Heartbeat>;

export const SucceedRunBody = z.strictObject({ summary: JsonObjectField.optional() }).meta({ id: "SucceedRunBody" });
export type SucceedRunBody = z.infer<typeof SucceedRunBody>;

export const FailRunBody = z
  .strictObject({
    error: text(65_536).optional().describe("What went wrong, in a sentence or a traceback"),
    details: JsonObjectField.optional(),
  })
  .meta({ id: "FailRunBody" });
export type FailRunBody = z.infer<typeof FailRunBody>;

export const VariationRunsQuery = ListQuery.extend({ state: RunState.optional() });
export type VariationRunsQuery = z.infer<typeof VariationRunsQuery>;
export const ExperimentRunsQuery = VariationRunsQuery.extend({ variation: VariationKey.optional() });
export type ExperimentRunsQuery = z.infer<typeof ExperimentRunsQuery>;

export const RunPage = Page(Run).meta({ id: "RunPage" });

const tag = "Runs";
const base = RUN_PATH;
/** The 404s of a route on one run: the most precise of the three. */
const runMissing = ["experiment_not_found", "variation_not_found", "run_not_found"] as const;

export const runRoutes = {
  startRun: defineRoute({
    method: "POST",
    path: `${base}/start`,
    summary: "Start a run (creating its variation and run if needed), optionally linking its W&B run",
    description:
      "Idempotent for a running or lost run, which is left running. 409 `run_finished` for a succeeded or " +
      "failed run (a continuation is a new run index); 409 `run_state_conflict` for a different W&B pointer.",
    tag,
    access: "write",
    params: RunParams,
    body: StartRunBody.optional(),
    responses: { 200: Run },
    errors: ["experiment_not_found", "wandb_project_required", "run_finished", "run_state_conflict"],
    idempotent: true,
  }),
  heartbeat: defineRoute({
    method: "POST",
    path: `${base}/heartbeat`,
    summary: "Keep a run alive (revives a lost run)",
    tag,
    access: "write",
    params: RunParams,
    responses: { 200: Heartbeat },
    errors: [...runMissing, "run_finished"],
    idempotent: true,
  }),
  succeedRun: defineRoute({
    method: "POST",
    path: `${base}/succeed`,
    summary: "End a run as succeeded; a repeat answers the run unchanged",
    tag,
    access: "write",
    params: RunParams,
    body: SucceedRunBody.optional(),
    responses: { 200: Run },
    errors: [...runMissing, "run_state_conflict"],
    idempotent: true,
  }),
  failRun: defineRoute({
    method: "POST",
    path: `${base}/fail`,
    summary: "End a run as failed; a repeat answers the run unchanged",
    tag,
    access: "write",
    params: RunParams,
    body: FailRunBody.optional(),
    responses: { 200: Run },
    errors: [...runMissing, "run_state_conflict"],
    idempotent: true,
  }),
  getRun: defineRoute({
    method: "GET",
    path: base,
    summary: "Read a run",
    tag,
    access: "read",
    params: RunParams,
    responses: { 200: Run },
    errors: runMissing,
  }),
  listVariationRuns: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var/runs",
    summary: "List a variation's runs, newest first",
    tag,
    access: "read",
    params: VariationParams,
    query: VariationRunsQuery,
    responses: { 200: RunPage },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
  listExperimentRuns: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/runs",
    summary: "List every run of an experiment, newest first",
    tag,
    access: "read",
    params: ExperimentParams,
    query: ExperimentRunsQuery,
    responses: { 200: RunPage },
    errors: ["experiment_not_found"],
  }),
};
