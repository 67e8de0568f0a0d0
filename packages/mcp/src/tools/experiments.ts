import { ExperimentId } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer } from "../result.js";
import { readOnly } from "./annotations.js";
import { paging } from "./fields.js";

export function registerExperimentTools(server: McpServer, chronicle: Chronicle): void {
  server.registerTool(
    "list_experiments",
    {
      title: "List experiments",
      description:
        "Lists the experiments recorded in Chronicle, newest first, one page at a time: where to start " +
        "when you do not know an experiment's id. Pass `next_cursor` back as `cursor` for the next page.",
      inputSchema: { ...paging },
      annotations: readOnly,
    },
    ({ cursor, limit }) => answer(() => chronicle.listExperiments().page({ cursor, limit })),
  );

  server.registerTool(
    "get_experiment",
    {
      title: "Get an experiment",
      description:
        "Reads one experiment: its name, description, config and the Weights & Biases entity and project " +
        "its runs log to.",
      inputSchema: { experiment_id: ExperimentId },
      annotations: readOnly,
    },
    ({ experiment_id }) => answer(() => chronicle.getExperiment(experiment_id)),
  );
}
