import { AssetId, AssetType, ExperimentId, VariationKey } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer, toolError } from "../result.js";
import { readOnly } from "./annotations.js";
import { optionalAssetType, optionalRun, optionalVariation, paging } from "./fields.js";

export function registerAssetTools(server: McpServer, chronicle: Chronicle): void {
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
    "get_asset",
    {
      title: "Get an asset",
      description:
        "Reads one asset by id: its type, state, the experiment, variation and run it belongs to, its " +
        "config and its files with their sizes and sha256 (the content itself is not included).",
      inputSchema: { asset_id: AssetId },
      annotations: readOnly,
    },
    ({ asset_id }) => answer(() => chronicle.getAsset(asset_id)),
  );

  server.registerTool(
    "get_asset_content",
    {
      title: "Read an inline asset",
      description:
        "Reads the JSON an inline asset was stored with: a run's environment snapshot (library versions, " +
        "hardware, git SHA, resolved hyperparameters) or a trainer config. File assets such as " +
        "checkpoints have no inline content (an asset_not_inline error).",
      inputSchema: { asset_id: AssetId },
      annotations: readOnly,
    },
    ({ asset_id }) => answer(() => chronicle.getAssetContent(asset_id)),
  );
}
