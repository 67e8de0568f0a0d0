import { Chronicle, resolveCredentials } from "@methodic/sdk";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { registerAssetTools } from "./tools/assets.js";
import { registerExperimentTools } from "./tools/experiments.js";
import { registerOutputTools } from "./tools/outputs.js";
import { registerRunTools } from "./tools/runs.js";
import { registerVariationTools } from "./tools/variations.js";

const VERSION = "0.1.0";

/** An MCP server with every Chronicle tool, each a call of the SDK on `chronicle`. */
export function createMcpServer(chronicle: Chronicle): McpServer {
  const server = new McpServer(
    { name: "methodic", title: "Chronicle", version: VERSION },
    {
      instructions:
        "Chronicle records ML training runs: experiments hold variations (configurations), variations " +
        "hold numbered runs, and runs produce assets (checkpoints, environment snapshots, configs). " +
        "List tools answer one page: pass `next_cursor` back as `cursor` for the next.",
    },
  );
  registerExperimentTools(server, chronicle);
  registerVariationTools(server, chronicle);
  registerRunTools(server, chronicle);
  registerAssetTools(server, chronicle);
  registerOutputTools(server, chronicle);
  return server;
}

/**
 * Serves the tools over stdin and stdout until the client closes stdin. Without `chronicle`, the server
 * and token come from METHODIC_URL / METHODIC_TOKEN or the credentials file (docs/api.md's order).
 * Stdout carries the protocol alone: diagnostics go to stderr.
 */
export async function serveStdio(options: { chronicle?: Chronicle } = {}): Promise<void> {
  if (!options.chronicle && !resolveCredentials().token) {
    log("no token found: set METHODIC_TOKEN or run `methodic login`; every tool call will be refused (401)");
  }
  const chronicle = options.chronicle ?? new Chronicle();
  const server = createMcpServer(chronicle);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  transport.onerror = (err) => log(`stdio transport: ${err.message}`);
  await server.connect(transport);
  process.stdin.once("end", () => void server.close());
  log(`serving Chronicle at ${chronicle.baseUrl} over stdio`);
  await closed;
}

function log(message: string): void {
  process.stderr.write(`methodic-mcp: ${message}\n`);
}
