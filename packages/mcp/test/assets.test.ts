import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Asset, Chronicle, type InputAsset, type Page } from "@methodic/sdk";
import { startServer, type TestServer } from "@methodic/server/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type McpSession, startMcp, textOf } from "./mcp-client.js";

const EXP = "mcp-assets";
let server: TestServer;
let mcp: McpSession;
let chronicle: Chronicle;
let checkpoints: Asset[];
let pending: Asset;

async function checkpointDir(step: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "methodic-mcp-ckpt-"));
  await writeFile(join(dir, "weights.bin"), `weights at step ${step}`);
  await writeFile(join(dir, "optimizer.json"), JSON.stringify({ step }));
  return dir;
}

/** The REST route itself, as any client would call it. */
async function rest<T>(path: string): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  server = await startServer();
  chronicle = new Chronicle({ baseUrl: server.url, token: server.token });
  await chronicle.createExperiment({ id: EXP });
  checkpoints = [];
  // Two variations; in "lr-1" run 0 and run 1 each leave an environment, a config and a checkpoint.
  for (const [variation, index] of [
    ["lr-1", 0],
    ["lr-1", 1],
    ["lr-2", 0],
  ] as const) {
    const run = chronicle.run(EXP, variation, index, { heartbeatIntervalMs: 60_000 });
    await run.start();
    await run.uploadEnvironment({ node: process.version });
    await run.uploadAsset({ asset_type: "trainer_config", content: { lr: variation } });
    if (variation === "lr-1") {
      checkpoints.push(await run.uploadDirectoryAsync(await checkpointDir(index), { asset_type: "checkpoint" }).done);
    }
    await run.succeed();
  }
  // A checkpoint whose upload never happened: pending, so never the latest and never linkable.
  const started = chronicle.run(EXP, "lr-1", 2, { heartbeatIntervalMs: 60_000 });
  await started.start();
  const created = await fetch(`${server.url}/v1/experiments/${EXP}/variations/lr-1/runs/2/assets`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    body: JSON.stringify({
      asset_type: "checkpoint",
      components: [{ path: "weights.bin", size: 3, sha256: "0".repeat(64) }],
    }),
  });
  expect(created.status).toBe(201);
  pending = ((await created.json()) as { asset: Asset }).asset;

  mcp = await startMcp({ METHODIC_URL: server.url, METHODIC_TOKEN: server.token });
});
afterAll(async () => {
  await mcp?.close();
  await server?.close();
});

describe("list_outputs", () => {
  test("answers the same items as the REST API, for the experiment, a variation and a run", async () => {
    const scopes = [
      { args: {}, path: `/v1/experiments/${EXP}/outputs` },
      { args: { variation: "lr-1" }, path: `/v1/experiments/${EXP}/variations/lr-1/outputs` },
      { args: { variation: "lr-1", run: 1 }, path: `/v1/experiments/${EXP}/variations/lr-1/runs/1/outputs` },
      { args: { asset_type: "checkpoint" }, path: `/v1/experiments/${EXP}/outputs?asset_type=checkpoint` },
    ];
    for (const { args, path } of scopes) {
      const viaMcp = await mcp.json<Page<Asset>>("list_outputs", { experiment_id: EXP, ...args });
      const viaRest = await rest<Page<Asset>>(path);
      expect(viaMcp.items.length, path).toBeGreaterThan(0);
      expect(viaMcp, path).toEqual(viaRest);
    }
    const all = await mcp.json<Page<Asset>>("list_outputs", { experiment_id: EXP });
    expect(all.items).toHaveLength(3 * 2 + 2 + 1);
  });

  test("pages through every output with limit and cursor, each once", async () => {
    const everything = await rest<Page<Asset>>(`/v1/experiments/${EXP}/outputs?limit=1000`);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await mcp.json<Page<Asset>>("list_outputs", { experiment_id: EXP, limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((asset) => asset.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(everything.items.length / 2));
    expect(seen).toEqual(everything.items.map((asset) => asset.id));
  });
});

describe("latest_output", () => {
  test("finds the newest ready checkpoint, never the pending one", async () => {
    const newest = checkpoints.at(-1)!;
    const latest = await mcp.json<{ asset: Asset | null }>("latest_output", {
      experiment_id: EXP,
      variation: "lr-1",
      asset_type: "checkpoint",
    });
    expect(latest.asset?.id).toBe(newest.id);
    expect(latest.asset).toMatchObject({ state: "ready", run: 1, asset_type: "checkpoint" });
    expect(latest.asset?.id).not.toBe(pending.id);
    expect(latest).toEqual(await rest(`/v1/experiments/${EXP}/variations/lr-1/outputs/latest?asset_type=checkpoint`));
  });

  test("answers null when the variation has none of the type", async () => {
    expect(
      await mcp.json("latest_output", { experiment_id: EXP, variation: "lr-2", asset_type: "checkpoint" }),
    ).toEqual({ asset: null });
  });

  test("get_asset reads the checkpoint it found", async () => {
    const newest = checkpoints.at(-1)!;
    const asset = await mcp.json<Asset>("get_asset", { asset_id: newest.id });
    expect(asset).toEqual(await rest(`/v1/assets/${newest.id}`));
    expect(asset.components.map((c) => c.path).sort()).toEqual(["optimizer.json", "weights.bin"]);
  });

  test("get_asset_content reads an environment snapshot; a checkpoint has none to read", async () => {
    const [environment] = await chronicle.listOutputs(EXP, { variation: "lr-2", asset_type: "environment" }).all();
    expect(await mcp.json("get_asset_content", { asset_id: environment!.id })).toEqual({ node: process.version });
    const files = await mcp.call("get_asset_content", { asset_id: checkpoints[0]!.id });
    expect(files.isError).toBe(true);
    expect(textOf(files)).toMatch(/\(HTTP 409\)/);
  });
});

describe("inputs", () => {
  test("link_input branches a variation from a checkpoint; unlink_input removes the link", async () => {
    await chronicle.variation(EXP, "branch").put({ description: "continues lr-1" });
    const source = checkpoints.at(-1)!;
    const target = { experiment_id: EXP, variation: "branch" };

    const linked = await mcp.json<InputAsset>("link_input", { ...target, asset_id: source.id });
    expect(linked).toMatchObject({ id: source.id, variation: "lr-1", linked_at: expect.any(String) });
    // Linking again changes nothing.
    expect((await mcp.json<InputAsset>("link_input", { ...target, asset_id: source.id })).id).toBe(source.id);

    const inputs = await mcp.json<Page<InputAsset>>("list_inputs", target);
    expect(inputs.items.map((asset) => asset.id)).toEqual([source.id]);
    expect(inputs).toEqual(await rest(`/v1/experiments/${EXP}/variations/branch/inputs`));

    expect(await mcp.json("unlink_input", { ...target, asset_id: source.id })).toEqual({
      ...target,
      asset_id: source.id,
      unlinked: true,
    });
    expect(await mcp.json("list_inputs", target)).toEqual({ items: [], next_cursor: null });
    // Unlinking what is not linked changes nothing either.
    expect((await mcp.call("unlink_input", { ...target, asset_id: source.id })).isError).toBeFalsy();
  });

  test("a pending asset cannot be linked: a tool error with the API's reason", async () => {
    const result = await mcp.call("link_input", { experiment_id: EXP, variation: "branch", asset_id: pending.id });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("asset_not_ready");
    expect((await mcp.json("list_inputs", { experiment_id: EXP, variation: "branch" })).items).toEqual([]);
  });
});
