import { AssetType, ListQuery, RunIndex, RunState, VariationKey } from "@methodic/contract";
import { z } from "zod";

// Tool inputs are the contract's own schemas, so a tool refuses exactly what the API would. These are
// the ones a tool needs optional, or described for what they mean to that tool.

export const optionalVariation = VariationKey.describe("Only this variation; every variation when absent").optional();

export const optionalRun = RunIndex.describe(
  "Only this run of the variation (needs `variation`); every run when absent",
).optional();

// The contract's states as an enum of their own: RunState carries an OpenAPI id, with which the tool's
// JSON Schema would point at it through a $ref, and not every MCP client follows one.
export const optionalRunState = z.enum(RunState.options).describe("Only runs in this state").optional();

export const optionalAssetType = AssetType.describe(
  "Only assets of this type (checkpoint, environment, ...)",
).optional();

/** What every list tool takes: one page at a time, as an agent reads. */
export const paging = {
  cursor: ListQuery.shape.cursor,
  limit: ListQuery.shape.limit,
};
