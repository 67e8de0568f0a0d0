import { z } from "zod";
import { Asset, AssetId, AssetState, AssetType } from "./assets.js";
import {
  ExperimentParams,
  ListQuery,
  Page,
  RUN_PATH,
  RunIndexQuery,
  RunParams,
  Timestamp,
  VariationKey,
  VariationParams,
} from "./common.js";
import { defineRoute } from "./route.js";

export const InputAsset = Asset.extend({ linked_at: Timestamp }).meta({ id: "InputAsset" });
export type InputAsset = z.infer<typeof InputAsset>;

export const OutputsQuery = ListQuery.extend({ asset_type: AssetType.optional(), state: AssetState.optional() });
export const VariationOutputsQuery = OutputsQuery.extend({
  run: RunIndexQuery.optional(),
});
export const ExperimentOutputsQuery = VariationOutputsQuery.extend({ variation: VariationKey.optional() });
export type ExperimentOutputsQuery = z.infer<typeof ExperimentOutputsQuery>;
export const LatestQuery = z.strictObject({
  asset_type: AssetType,
  run: RunIndexQuery.optional(),
});
export type LatestQuery = z.infer<typeof LatestQuery>;

export const AssetPage = Page(Asset).meta({ id: "AssetPage" });
export const InputPage = Page(InputAsset).meta({ id: "InputPage" });
export const Latest = z
  .object({ asset: Asset.nullable().describe("The newest ready asset of the type, or null") })
  .meta({ id: "Latest" });

const InputParams = VariationParams.extend({ asset_id: AssetId });

const tag = "Outputs";

export const outputRoutes = {
  listRunOutputs: defineRoute({
    method: "GET",
    path: `${RUN_PATH}/outputs`,
    summary: "A run's outputs, newest first",
    tag,
    access: "read",
    params: RunParams,
    query: OutputsQuery,
    responses: { 200: AssetPage },
    errors: ["experiment_not_found", "variation_not_found", "run_not_found"],
  }),
  listVariationOutputs: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var/outputs",
    summary: "Outputs of every run of a variation, newest first",
    tag,
    access: "read",
    params: VariationParams,
    query: VariationOutputsQuery,
    responses: { 200: AssetPage },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
  latestOutput: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var/outputs/latest",
    summary: "The newest ready asset of a type across the variation's runs (or of one run)",
    tag,
    access: "read",
    params: VariationParams,
    query: LatestQuery,
    responses: { 200: Latest },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
  listExperimentOutputs: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/outputs",
    summary: "Every asset of an experiment, newest first",
    tag,
    access: "read",
    params: ExperimentParams,
    query: ExperimentOutputsQuery,
    responses: { 200: AssetPage },
    errors: ["experiment_not_found"],
  }),
  listInputs: defineRoute({
    method: "GET",
    path: "/v1/experiments/:exp/variations/:var/inputs",
    summary: "Assets linked to the variation as inputs, last linked first",
    tag: "Inputs",
    access: "read",
    params: VariationParams,
    query: ListQuery,
    responses: { 200: InputPage },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
  linkInput: defineRoute({
    method: "PUT",
    path: "/v1/experiments/:exp/variations/:var/inputs/:asset_id",
    summary: "Link a ready asset (of any variation of any experiment) as an input (idempotent)",
    tag: "Inputs",
    access: "write",
    params: InputParams,
    responses: { 200: InputAsset, 201: InputAsset },
    errors: ["experiment_not_found", "variation_not_found", "asset_not_found", "asset_not_ready"],
  }),
  unlinkInput: defineRoute({
    method: "DELETE",
    path: "/v1/experiments/:exp/variations/:var/inputs/:asset_id",
    summary: "Unlink an input (idempotent)",
    tag: "Inputs",
    access: "write",
    params: InputParams,
    responses: { 204: z.null().describe("Unlinked") },
    errors: ["experiment_not_found", "variation_not_found"],
  }),
};
