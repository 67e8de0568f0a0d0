import { ExperimentId } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer } from "../result.js";
import { readOnly } from "./annotations.js";
import { paging } from "./fields.js";

export function registerVariationTools(server: McpServer, chronicle: Chronicle): void {
  server.registerTool(
    "list_variations",
    {
      title: "List variations",
      description:
        "Lists an experiment's variations (its configurations, e.g. one per learning rate), newest first, " +
        "each with its config and how many of its runs are running, succeeded, failed or lost.",
      inputSchema: { experiment_id: ExperimentId, ...paging },
      annotations: readOnly,
    },
    ({ experiment_id, cursor, limit }) => answer(() => chronicle.listVariations(experiment_id).page({ cursor, limit })),
  );
}
