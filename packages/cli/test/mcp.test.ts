import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chronicle } from "@methodic/sdk";
import { startServer, type TestServer } from "@methodic/server/testing";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BIN } from "./support.js";

let server: TestServer;
let config: string;

beforeAll(async () => {
  server = await startServer();
  config = await mkdtemp(join(tmpdir(), "methodic-cli-mcp-"));
});
afterAll(async () => {
  await server.close();
  await rm(config, { recursive: true, force: true });
});

test("through `methodic mcp`, an agent finds a variation's newest checkpoint and links it as another's input", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: server.token });
  await chronicle.createExperiment({ id: "agent" });
  const run = chronicle.run("agent", "teacher", 0);
  await run.start();
  const dir = await mkdtemp(join(config, "ckpt-"));
  await writeFile(join(dir, "weights.bin"), "step 1");
  await run.uploadDirectoryAsync(dir, { asset_type: "checkpoint" }).done;
  await writeFile(join(dir, "weights.bin"), "step 2");
  const newest = await run.uploadDirectoryAsync(dir, { asset_type: "checkpoint" }).done;
  await chronicle.variation("agent", "student").put({ description: "distilled from teacher" });

  const client = new Client({ name: "cli-test-agent", version: "0.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "mcp"],
      env: {
        PATH: process.env.PATH ?? "",
        XDG_CONFIG_HOME: config,
        METHODIC_URL: server.url,
        METHODIC_TOKEN: server.token,
      },
      stderr: "pipe",
    }),
  );
  try {
    const json = async (name: string, args: Record<string, unknown>) => {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
      return { isError: result.isError === true, text, value: result.isError ? undefined : JSON.parse(text) };
    };
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["latest_output", "link_input", "list_inputs"]));

    const latest = await json("latest_output", {
      experiment_id: "agent",
      variation: "teacher",
      asset_type: "checkpoint",
    });
    expect(latest.value.asset.id).toBe(newest.id);
    const linked = await json("link_input", { experiment_id: "agent", variation: "student", asset_id: newest.id });
    expect(linked.isError).toBe(false);
    const inputs = await json("list_inputs", { experiment_id: "agent", variation: "student" });
    expect(inputs.value.items.map((a: { id: string }) => a.id)).toEqual([newest.id]);
    expect((await chronicle.variation("agent", "student").listInputs().all()).map((a) => a.id)).toEqual([newest.id]);

    const unknown = await json("latest_output", { experiment_id: "nope", variation: "v", asset_type: "checkpoint" });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain("does not exist");
  } finally {
    await client.close();
  }
});
