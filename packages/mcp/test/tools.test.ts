import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chronicle } from "@methodic/sdk";
import { startServer, type TestServer } from "@methodic/server/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type McpSession, startMcp, textOf } from "./mcp-client.js";

let server: TestServer;
let mcp: McpSession;

beforeAll(async () => {
  server = await startServer();
  mcp = await startMcp({ METHODIC_URL: server.url, METHODIC_TOKEN: server.token });
  const chronicle = new Chronicle({ baseUrl: server.url, token: server.token });
  await chronicle.createExperiment({ id: "tools-exp", name: "Tools", wandb_project: "tools" });
  const run = chronicle.run("tools-exp", "base", 0, { heartbeatIntervalMs: 60_000 });
  await run.start();
  await run.succeed({ loss: 0.5 });
});
afterAll(async () => {
  await mcp?.close();
  await server?.close();
});

const REQUIRED: Record<string, string[]> = {
  list_experiments: [],
  get_experiment: ["experiment_id"],
  list_variations: ["experiment_id"],
  list_runs: ["experiment_id"],
  get_run: ["experiment_id", "variation", "run"],
  list_outputs: ["experiment_id"],
  latest_output: ["experiment_id", "variation", "asset_type"],
  list_inputs: ["experiment_id", "variation"],
  link_input: ["experiment_id", "variation", "asset_id"],
  unlink_input: ["experiment_id", "variation", "asset_id"],
  get_asset: ["asset_id"],
  get_asset_content: ["asset_id"],
};

describe("tools/list", () => {
  test("shows every tool with its input schema, every field described", async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(Object.keys(REQUIRED).sort());
    for (const tool of tools) {
      expect(tool.description, tool.name).toBeTruthy();
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.inputSchema.type).toBe("object");
      expect((tool.inputSchema.required ?? []).sort(), tool.name).toEqual([...(REQUIRED[tool.name] ?? [])].sort());
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
  });

  test("list tools page with cursor and limit; only link and unlink write", async () => {
    const { tools } = await mcp.client.listTools();
    for (const tool of tools) {
      const writes = tool.name === "link_input" || tool.name === "unlink_input";
      expect(tool.annotations?.readOnlyHint, tool.name).toBe(!writes);
      if (writes) expect(tool.annotations?.idempotentHint, tool.name).toBe(true);
      if (tool.name.startsWith("list_")) {
        expect(Object.keys(tool.inputSchema.properties ?? {}), tool.name).toEqual(
          expect.arrayContaining(["cursor", "limit"]),
        );
      }
    }
  });
});

describe("reading", () => {
  test("experiments, variations and runs are the API's JSON", async () => {
    const experiments = await mcp.json("list_experiments");
    expect(experiments.items.map((e: { id: string }) => e.id)).toEqual(["tools-exp"]);
    expect(experiments.next_cursor).toBeNull();
    expect(await mcp.json("get_experiment", { experiment_id: "tools-exp" })).toMatchObject({
      id: "tools-exp",
      name: "Tools",
      wandb_project: "tools",
    });
    const variations = await mcp.json("list_variations", { experiment_id: "tools-exp" });
    expect(variations.items).toMatchObject([{ variation: "base", run_counts: { succeeded: 1, running: 0 } }]);
    const run = await mcp.json("get_run", { experiment_id: "tools-exp", variation: "base", run: 0 });
    expect(run).toMatchObject({ run: 0, state: "succeeded", summary: { loss: 0.5 } });
    const succeeded = await mcp.json("list_runs", { experiment_id: "tools-exp", state: "succeeded" });
    expect(succeeded.items).toHaveLength(1);
    expect(await mcp.json("list_runs", { experiment_id: "tools-exp", variation: "base", state: "failed" })).toEqual({
      items: [],
      next_cursor: null,
    });
  });
});

describe("errors are tool errors, and the server goes on answering", () => {
  test("an argument the contract refuses", async () => {
    const badId = await mcp.call("get_experiment", { experiment_id: "no spaces allowed" });
    expect(badId.isError).toBe(true);
    expect(textOf(badId)).toContain("experiment id must be 1 to 128 characters");

    const badRun = await mcp.call("get_run", { experiment_id: "tools-exp", variation: "base", run: -1 });
    expect(badRun.isError).toBe(true);
    expect(textOf(badRun)).toContain("expected number to be >=0");

    const badLimit = await mcp.call("list_experiments", { limit: 5000 });
    expect(badLimit.isError).toBe(true);

    const runWithoutVariation = await mcp.call("list_outputs", { experiment_id: "tools-exp", run: 0 });
    expect(runWithoutVariation.isError).toBe(true);
    expect(textOf(runWithoutVariation)).toContain("`run` needs `variation`");

    expect((await mcp.json("list_experiments")).items).toHaveLength(1);
  });

  test("an unknown experiment, run or asset carries the API's code and message", async () => {
    const rest = await fetch(`${server.url}/v1/experiments/nope`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const { error } = (await rest.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("experiment_not_found");

    const unknown = await mcp.call("get_experiment", { experiment_id: "nope" });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toContain(error.message);
    expect(textOf(unknown)).toContain("experiment_not_found");

    const run = await mcp.call("get_run", { experiment_id: "tools-exp", variation: "base", run: 9 });
    expect(run.isError).toBe(true);
    expect(textOf(run)).toContain("run_not_found");

    const outputs = await mcp.call("list_outputs", { experiment_id: "tools-exp", variation: "base", run: 9 });
    expect(outputs.isError).toBe(true);
    expect(textOf(outputs)).toContain("run_not_found");

    const asset = await mcp.call("get_asset", { asset_id: "01900000-0000-7000-8000-000000000000" });
    expect(asset.isError).toBe(true);
    expect(textOf(asset)).toContain("asset_not_found");

    expect(await mcp.json("get_experiment", { experiment_id: "tools-exp" })).toMatchObject({ id: "tools-exp" });
  });

  test("stdout is the protocol alone; diagnostics go to stderr without the token", async () => {
    expect(mcp.stderr()).toContain(`serving Chronicle at ${server.url}`);
    expect(mcp.stderr()).not.toContain(server.token);
  });
});

describe("configuration", () => {
  test("without METHODIC_URL and METHODIC_TOKEN, the credentials file is used", async () => {
    const config = await mkdtemp(join(tmpdir(), "methodic-mcp-config-"));
    await mkdir(join(config, "methodic"));
    await writeFile(
      join(config, "methodic", "credentials.json"),
      JSON.stringify({ url: server.url, token: server.token }),
    );
    const fromFile = await startMcp({ XDG_CONFIG_HOME: config });
    try {
      expect((await fromFile.json("list_experiments")).items).toHaveLength(1);
    } finally {
      await fromFile.close();
    }
  });

  test("without any token, calls are refused as tool errors", async () => {
    const anonymous = await startMcp({ METHODIC_URL: server.url });
    try {
      const result = await anonymous.call("list_experiments");
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("unauthorized");
      expect(anonymous.stderr()).toContain("no token found");
    } finally {
      await anonymous.close();
    }
  });
});
