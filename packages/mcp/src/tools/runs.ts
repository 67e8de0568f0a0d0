import { ExperimentId, RunIndex, VariationKey } from "@methodic/contract";
import type { Chronicle } from "@methodic/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answer } from "../result.js";
import { readOnly } from "./annotations.js";
import { optionalRunState, optionalVariation, paging } from "./fields.js";

export function registerRunTools(server: McpServer, chronicle: Chronicle): void {
  server.registerTool(
    "list_runs",
    {
      title: "List runs",
      description:
        "Lists the runs of an experiment, or of one of its variations, newest first, optionally only those " +
        "in one state: e.g. the failed or lost runs to look into, or the succeeded ones to compare. A run " +
        "shows its state, timestamps, Weights & Biases link, summary and error.",
      inputSchema: { experiment_id: ExperimentId, variation: optionalVariation, state: optionalRunState, ...paging },
      annotations: readOnly,
    },
    ({ experiment_id, variation, state, cursor, limit }) =>
      answer(() => chronicle.listRuns(experiment_id, { variation, state }).page({ cursor, limit })),
  );

  server.registerTool(
    "get_run",
    {
      title: "Get a run",
      description:
        "Reads one run of a variation: its state (running, succeeded, failed or lost), when it started, " +
        "finished and last sent a heartbeat, its Weights & Biases dashboard URL, and its summary or error.",
      inputSchema: { experiment_id: ExperimentId, variation: VariationKey, run: RunIndex },
      annotations: readOnly,
    },
    ({ experiment_id, variation, run }) => answer(() => chronicle.run(experiment_id, variation, run).get()),
  );
}
