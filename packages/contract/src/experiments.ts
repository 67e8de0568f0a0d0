import { z } from "zod";
import { Description, ExperimentId, ExperimentParams, ListQuery, Name, Page, Timestamp, WandbName } from "./common.js";
import { defineRoute } from "./route.js";
import { JsonObject, JsonObjectField } from "./values.js";

export const Experiment = z
  .object({
    id: ExperimentId,
    name: z.string().nullable(),
    description: z.string().nullable(),
    wandb_entity: z
      .string()
      .nullable()
      .describe("The W&B entity of the experiment's project (a run's start names its own)"),
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
    config: JsonObjectField.optional(),
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
    config: JsonObjectField.optional().describe("Replaces the whole config"),
  })
  .meta({ id: "UpdateExperimentBody" });
export type UpdateExperimentBody = z.infer<typeof UpdateExperimentBody>;

export const ExperimentPage = Page(Experiment).meta({ id: "ExperimentPage" });

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
    errors: ["already_exists"],
  }),
  listExperiments: defineRoute({
    method: "GET",
    path: "/v1/experiments",
    summary: "List experiments, newest first",
    tag,
    access: "read",
    query: ListQuery,
    responses: { 200: ExperimentPage },
  }),
  getExperiment: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp",
    summary: "Read an experiment",
    tag,
    access: "read",
    params: ExperimentParams,
    responses: { 200: Experiment },
    errors: ["experiment_not_found"],
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
    errors: ["experiment_not_found"],
  }),
};
