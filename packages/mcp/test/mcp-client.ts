import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

export interface McpSession {
  client: Client;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** Calls a tool that must succeed and answers its JSON. */
  json<T = any>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Calls a tool and answers the whole result, errors included. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * The MCP server (this package's build, as `methodic-mcp` runs it) as a child process, speaking stdio
 * with a real MCP client. `env` configures it; XDG_CONFIG_HOME points at an
 * empty directory unless given, so a credentials file of the machine never leaks in.
 */
export async function startMcp(env: Record<string, string>): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(packageDir, "dist", "main.js")],
    cwd: packageDir,
    env: { XDG_CONFIG_HOME: await mkdtemp(join(tmpdir(), "methodic-mcp-xdg-")), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "methodic-mcp-test", version: "0.0.0" });
  await client.connect(transport);

  const call = (name: string, args: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  return {
    client,
    stderr: () => stderr,
    call,
    async json(name, args) {
      const result = await call(name, args);
      const text = textOf(result);
      if (result.isError) throw new Error(`${name} answered a tool error: ${text}`);
      return JSON.parse(text);
    },
    close: () => client.close(),
  };
}

export function textOf(result: CallToolResult): string {
  return result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
}
