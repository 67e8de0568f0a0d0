import { z } from "zod";
import {
  Description,
  ExperimentId,
  ExperimentParams,
  ListQuery,
  Page,
  Timestamp,
  VariationKey,
  VariationParams,
} from "./common.js";
import { defineRoute } from "./route.js";
import { JsonObject, JsonObjectField } from "./values.js";

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
    config: JsonObjectField.optional().describe("Replaces the whole config"),
  })
  .meta({ id: "PutVariationBody" });
export type PutVariationBody = z.infer<typeof PutVariationBody>;

export const VariationPage = Page(Variation).meta({ id: "VariationPage" });

const tag = "Variations";

export const variationRoutes = {
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
    errors: ["experiment_not_found"],
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
    errors: ["experiment_not_found"],
  }),
  getVariation: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var",
    summary: "Read a variation",
    tag,
    access: "read",
    params: VariationParams,
    responses: { 200: Variation },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
};
