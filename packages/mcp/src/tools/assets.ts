import { AssetId } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer } from "../result.js";
import { readOnly } from "./annotations.js";

export function registerAssetTools(server: McpServer, chronicle: Chronicle): void {
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
