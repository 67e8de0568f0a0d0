import { z } from "zod";
import {
  Description,
  ExperimentId,
  JsonObject,
  ListQuery,
  Name,
  Page,
  Timestamp,
  VariationKey,
  WandbName,
} from "./common.js";
import { defineRoute } from "./route.js";

export const Experiment = z
  .object({
    id: ExperimentId,
    name: z.string().nullable(),
    description: z.string().nullable(),
    wandb_entity: z.string().nullable().describe("Default W&B entity for this experiment's runs"),
    wandb_project: z.string().nullable().describe("Default W&B project for this experiment's runs"),
    config: JsonObject,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: "Experiment" });
export type Experiment = z.infer<typeof Experiment>;

export const CreateExperimentBody = z
  .strictObject({
    id: ExperimentId,
    name: Name.optional(),
    description: Description.optional(),
    wandb_entity: WandbName.optional(),
    wandb_project: WandbName.optional(),
    config: JsonObject.optional(),
  })
  .meta({ id: "CreateExperimentBody" });
export type CreateExperimentBody = z.infer<typeof CreateExperimentBody>;

/** Fields given are changed, `null` clears one; absent fields stay as they are. */
export const UpdateExperimentBody = z
  .strictObject({
    name: Name.nullable().optional(),
    description: Description.nullable().optional(),
    wandb_entity: WandbName.nullable().optional(),
    wandb_project: WandbName.nullable().optional(),
    config: JsonObject.optional().describe("Replaces the whole config"),
  })
  .meta({ id: "UpdateExperimentBody" });
export type UpdateExperimentBody = z.infer<typeof UpdateExperimentBody>;

export const RunCounts = z
  .object({
    running: z.int().min(0),
    succeeded: z.int().min(0),
    failed: z.int().min(0),
    lost: z.int().min(0),
  })
  .describe("Number of runs of the variation in each state");
export type RunCounts = z.infer<typeof RunCounts>;

export const Variation = z
  .object({
    experiment_id: ExperimentId,
    variation: VariationKey,
    description: z.string().nullable(),
    config: JsonObject,
    run_counts: RunCounts,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: "Variation" });
export type Variation = z.infer<typeof Variation>;

/** Fields given are set (`null` clears the description); absent fields stay as they are. */
export const PutVariationBody = z
  .strictObject({
    description: Description.nullable().optional(),
    config: JsonObject.optional().describe("Replaces the whole config"),
  })
  .meta({ id: "PutVariationBody" });
export type PutVariationBody = z.infer<typeof PutVariationBody>;

export const ExperimentParams = z.strictObject({ exp: ExperimentId });
export const VariationParams = z.strictObject({ exp: ExperimentId, var: VariationKey });

export const ExperimentPage = Page(Experiment).meta({ id: "ExperimentPage" });
export const VariationPage = Page(Variation).meta({ id: "VariationPage" });

const tag = "Experiments";

export const experimentRoutes = {
  createExperiment: defineRoute({
    method: "POST",
    path: "/v1/experiments",
    summary: "Create an experiment",
    tag,
    access: "write",
    body: CreateExperimentBody,
    responses: { 201: Experiment },
    errors: [400, 401, 403, 409, 413, 415],
  }),
  listExperiments: defineRoute({
    method: "GET",
    path: "/v1/experiments",
    summary: "List experiments, newest first",
    tag,
    access: "read",
    query: ListQuery,
    responses: { 200: ExperimentPage },
    errors: [400, 401, 403],
  }),
  getExperiment: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp",
    summary: "Read an experiment",
    tag,
    access: "read",
    params: ExperimentParams,
    responses: { 200: Experiment },
    errors: [400, 401, 403, 404],
  }),
  updateExperiment: defineRoute({
    method: "PATCH",
    path: "/v1/experiments/:exp",
    summary: "Update an experiment's name, description, W&B defaults or config",
    tag,
    access: "write",
    params: ExperimentParams,
    body: UpdateExperimentBody,
    responses: { 200: Experiment },
    errors: [400, 401, 403, 404, 413, 415],
  }),
  putVariation: defineRoute({
    method: "PUT",
    path: "/v1/experiments/:exp/variations/:var",
    summary: "Create or update a variation (idempotent)",
    description: "Answers 201 when the variation was created and 200 when it already existed.",
    tag,
    access: "write",
    params: VariationParams,
    body: PutVariationBody.optional(),
    responses: { 200: Variation, 201: Variation },
    errors: [400, 401, 403, 404, 413, 415],
  }),
  listVariations: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations",
    summary: "List an experiment's variations with run counts by state, newest first",
    tag,
    access: "read",
    params: ExperimentParams,
    query: ListQuery,
    responses: { 200: VariationPage },
    errors: [400, 401, 403, 404],
  }),
  getVariation: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var",
    summary: "Read a variation",
    tag,
    access: "read",
    params: VariationParams,
    responses: { 200: Variation },
    errors: [400, 401, 403, 404],
  }),
};
