import { AssetId, ExperimentId, VariationKey } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer } from "../result.js";
import { readOnly } from "./annotations.js";
import { paging } from "./fields.js";

export function registerInputTools(server: McpServer, chronicle: Chronicle): void {
  server.registerTool(
    "list_inputs",
    {
      title: "List inputs",
      description:
        "Lists the assets linked to a variation as its inputs (e.g. the checkpoint it was branched from), " +
        "last linked first, each with `linked_at`.",
      inputSchema: { experiment_id: ExperimentId, variation: VariationKey, ...paging },
      annotations: readOnly,
    },
    ({ experiment_id, variation, cursor, limit }) =>
      answer(() => chronicle.variation(experiment_id, variation).listInputs().page({ cursor, limit })),
  );

  server.registerTool(
    "link_input",
    {
      title: "Link an input",
      description:
        "Makes a ready asset the input of a variation: e.g. a checkpoint of one variation (found with " +
        "latest_output) becomes the starting point of another, so its lineage is recorded. The asset may " +
        "come from any variation of any experiment. Linking an asset already linked changes nothing.",
      inputSchema: {
        experiment_id: ExperimentId,
        variation: VariationKey.describe("The variation that takes the asset as input"),
        asset_id: AssetId.describe("The ready asset to link, e.g. a checkpoint id from latest_output"),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ experiment_id, variation, asset_id }) =>
      answer(() => chronicle.variation(experiment_id, variation).linkInput(asset_id)),
  );

  server.registerTool(
    "unlink_input",
    {
      title: "Unlink an input",
      description:
        "Removes an asset from a variation's inputs. The asset itself stays; only the link is removed. " +
        "Unlinking an asset that is not linked changes nothing.",
      inputSchema: {
        experiment_id: ExperimentId,
        variation: VariationKey.describe("The variation whose input to remove"),
        asset_id: AssetId.describe("The linked asset to remove from the inputs"),
      },
      // Destructive although nothing but the link goes: the link is the only record of where the
      // variation started from, and linking again does not bring back its original linked_at. A client
      // that confirms destructive calls with the user should confirm this one.
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ experiment_id, variation, asset_id }) =>
      answer(async () => {
        await chronicle.variation(experiment_id, variation).unlinkInput(asset_id);
        return { experiment_id, variation, asset_id, unlinked: true };
      }),
  );
}
