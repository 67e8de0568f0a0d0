import { AssetId, AssetType, ExperimentId, VariationKey } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer, toolError } from "../result.js";
import { readOnly } from "./annotations.js";
import { optionalAssetType, optionalRun, optionalVariation, paging } from "./fields.js";

/** What runs produced (outputs, the latest of a type) and what variations start from (inputs). */
export function registerOutputTools(server: McpServer, chronicle: Chronicle): void {
  server.registerTool(
    "list_outputs",
    {
      title: "List outputs",
      description:
        "Lists the assets runs produced (checkpoints, environment snapshots, configs, ...), newest first: " +
        "of one run, of every run of a variation when `run` is absent, or of the whole experiment when " +
        "`variation` is absent too. Each shows its type, state (pending, ready or aborted), size and files.",
      inputSchema: {
        experiment_id: ExperimentId,
        variation: optionalVariation,
        run: optionalRun,
        asset_type: optionalAssetType,
        ...paging,
      },
      annotations: readOnly,
    },
    ({ experiment_id, variation, run, asset_type, cursor, limit }) => {
      if (run === undefined) {
        return answer(() => chronicle.listOutputs(experiment_id, { variation, asset_type }).page({ cursor, limit }));
      }
      if (variation === undefined) {
        return toolError("`run` needs `variation`: a run index is only meaningful within its variation");
      }
      // The run's own route, so that an unknown run is a run_not_found rather than an empty page.
      return answer(() =>
        chronicle.run(experiment_id, variation, run).listOutputs({ asset_type }).page({ cursor, limit }),
      );
    },
  );

  server.registerTool(
    "latest_output",
    {
      title: "Latest output",
      description:
        "Finds the newest ready asset of a type across every run of a variation: with `checkpoint`, the " +
        "checkpoint to resume a crashed run from or to branch a new variation from. Answers " +
        "`{asset: null}` when the variation has none; pending and aborted uploads never count.",
      inputSchema: {
        experiment_id: ExperimentId,
        variation: VariationKey,
        asset_type: AssetType.describe("The type to look for, usually `checkpoint`"),
      },
      annotations: readOnly,
    },
    ({ experiment_id, variation, asset_type }) =>
      answer(async () => ({ asset: await chronicle.variation(experiment_id, variation).latestOutput(asset_type) })),
  );

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
