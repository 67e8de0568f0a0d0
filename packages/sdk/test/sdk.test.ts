import { mkdir, mkdtemp, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AuthError,
  Chronicle,
  ConflictError,
  collectEnvironment,
  credentialsPath,
  NotFoundError,
  resolveCredentials,
  saveCredentials,
  ValidationError,
} from "../src/index.js";

let server: Awaited<ReturnType<typeof startServer>>;
let chronicle: Chronicle;

beforeAll(async () => {
  server = await startServer();
  chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN });
});
afterAll(() => server.close());

describe("credentials", () => {
  test("come from arguments, then METHODIC_URL / METHODIC_TOKEN, then the credentials file", async () => {
    const config = await mkdtemp(join(tmpdir(), "methodic-xdg-"));
    await mkdir(join(config, "methodic"));
    await writeFile(
      join(config, "methodic", "credentials.json"),
      JSON.stringify({ url: "http://file:1/", token: "from-file" }),
    );
    const env = { XDG_CONFIG_HOME: config };
    expect(resolveCredentials({}, env)).toEqual({ baseUrl: "http://file:1", token: "from-file" });
    expect(resolveCredentials({}, { ...env, METHODIC_URL: "http://env:2", METHODIC_TOKEN: "from-env" })).toEqual({
      baseUrl: "http://env:2",
      token: "from-env",
    });
    expect(resolveCredentials({ baseUrl: "http://arg:3", token: "from-arg" }, { ...env, METHODIC_TOKEN: "x" })).toEqual(
      {
        baseUrl: "http://arg:3",
        token: "from-arg",
      },
    );
    expect(resolveCredentials({}, { XDG_CONFIG_HOME: join(config, "none") })).toEqual({
      baseUrl: "http://127.0.0.1:8080",
      token: undefined,
    });
  });

  test("are saved readable by their owner only, and read back", async () => {
    const env = { XDG_CONFIG_HOME: join(await mkdtemp(join(tmpdir(), "methodic-xdg-")), "fresh") };
    const path = await saveCredentials({ url: "http://saved:4", token: "mth_saved" }, env);
    expect(path).toBe(credentialsPath(env));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(resolveCredentials({}, env)).toEqual({ baseUrl: "http://saved:4", token: "mth_saved" });
    await saveCredentials({ url: "http://saved:5", token: "mth_other" }, env);
    expect(resolveCredentials({}, env)).toEqual({ baseUrl: "http://saved:5", token: "mth_other" });
  });
});

describe("the integration flow", () => {
  test("an experiment, a run linked to W&B, its environment and config, outputs, and succeed", async () => {
    await chronicle.createExperiment({ id: "sdk-flow", wandb_project: "ripple-pde" });
    const run = chronicle.run("sdk-flow", "lr-3e-4", 0);
    const started = await run.start({ wandb_run_id: "abc123", wandb_entity: "team" });
    expect(started.state).toBe("running");
    expect(started.wandb).toEqual({
      run_id: "abc123",
      entity: "team",
      project: "ripple-pde",
      dashboard_url: "https://wandb.ai/team/ripple-pde/runs/abc123",
    });

    const environment = await run.uploadEnvironment({ ...collectEnvironment(), hyperparameters: { lr: 3e-4 } });
    expect(environment).toMatchObject({ asset_type: "environment", state: "ready", inline: true });
    const config = await run.uploadAsset({
      asset_type: "trainer_config",
      content: { layers: [64, 64] },
      asset_config: { schema_version: 3 },
    });
    expect(config.asset_config).toEqual({ schema_version: 3 });
    expect(await chronicle.getAssetContent(config.id)).toEqual({ layers: [64, 64] });

    const outputs = await run.listOutputs().all();
    expect(outputs.map((a) => a.asset_type)).toEqual(["trainer_config", "environment"]);
    expect((await run.latestOutput("environment"))?.id).toBe(environment.id);
    expect(await run.latestOutput("checkpoint")).toBeNull();

    const done = await run.succeed({ loss: 0.01 });
    expect(done).toMatchObject({ state: "succeeded", summary: { loss: 0.01 } });
    // A continuation is a new run index that sees the variation's outputs.
    const next = chronicle.run("sdk-flow", "lr-3e-4", 1);
    await next.start();
    expect((await next.listOutputs({ acrossRuns: true }).all()).map((a) => a.id)).toEqual([config.id, environment.id]);
    expect(await next.listOutputs().all()).toEqual([]);
    await next.fail(new Error("diverged"), { step: 7 });
    const failed = await next.get();
    expect(failed.error).toMatchObject({ message: "Error: diverged", details: { step: 7 } });
    expect(failed.error?.details?.stack).toEqual(expect.stringContaining("diverged"));
  });

  test("variations link, list and unlink inputs", async () => {
    await chronicle.createExperiment({ id: "sdk-inputs" });
    const source = chronicle.run("sdk-inputs", "teacher", 0);
    await source.start();
    const asset = await source.uploadAsset({ asset_type: "snapshot", content: { w: [1, 2] } });
    const student = chronicle.variation("sdk-inputs", "student");
    await student.put({ description: "distilled" });
    const linked = await student.linkInput(asset.id);
    expect(linked).toMatchObject({ id: asset.id, linked_at: expect.any(String) });
    expect((await student.listInputs().all()).map((a) => a.id)).toEqual([asset.id]);
    await student.unlinkInput(asset.id);
    expect(await student.listInputs().all()).toEqual([]);
    expect((await student.get()).description).toBe("distilled");
  });

  test("lists page transparently", async () => {
    const ids = Array.from({ length: 130 }, (_, i) => `sdk-page-${String(i).padStart(3, "0")}`);
    for (const id of ids) await chronicle.createExperiment({ id });
    const seen: string[] = [];
    for await (const experiment of chronicle.listExperiments()) seen.push(experiment.id);
    // Over a page of 100: the iteration followed next_cursor, and saw each once, newest first.
    expect(seen.filter((id) => id.startsWith("sdk-page-"))).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe("browsing and tokens", () => {
  test("variations, runs and outputs of an experiment, filtered; one page at a time when asked", async () => {
    await chronicle.createExperiment({ id: "sdk-browse" });
    for (const [variation, index] of [
      ["a", 0],
      ["a", 1],
      ["b", 0],
    ] as const) {
      const run = chronicle.run("sdk-browse", variation, index);
      await run.start();
      await run.uploadAsset({ asset_type: index === 0 ? "checkpoint" : "snapshot", content: { variation, index } });
      if (index === 0) await run.succeed();
    }
    const variations = await chronicle.listVariations("sdk-browse").all();
    expect(variations.map((v) => v.variation).sort()).toEqual(["a", "b"]);

    const runs = await chronicle.listRuns("sdk-browse").all();
    expect(runs.map((r) => `${r.variation}/${r.run}`).sort()).toEqual(["a/0", "a/1", "b/0"]);
    expect((await chronicle.listRuns("sdk-browse", { variation: "a" }).all()).map((r) => r.run)).toEqual([1, 0]);
    expect((await chronicle.listRuns("sdk-browse", { state: "running" }).all()).map((r) => r.variation)).toEqual(["a"]);
    expect((await chronicle.variation("sdk-browse", "a").listRuns({ state: "succeeded" }).all()).length).toBe(1);

    expect((await chronicle.listOutputs("sdk-browse").all()).length).toBe(3);
    const ofA = await chronicle.listOutputs("sdk-browse", { variation: "a" }).all();
    expect(ofA.map((a) => a.run)).toEqual([1, 0]);
    const ofRun = await chronicle.listOutputs("sdk-browse", { variation: "a", run: 0 }).all();
    expect(ofRun.map((a) => a.asset_type)).toEqual(["checkpoint"]);
    const snapshots = await chronicle.listOutputs("sdk-browse", { asset_type: "snapshot" }).all();
    expect(snapshots.map((a) => a.variation)).toEqual(["a"]);
    expect((await chronicle.variation("sdk-browse", "a").latestOutput("checkpoint"))?.id).toBe(ofRun[0]?.id);
    expect(() => chronicle.listOutputs("sdk-browse", { run: 0 })).toThrow(/needs a `variation`/);

    const first = await chronicle.listRuns("sdk-browse").page({ limit: 2 });
    expect(first.items.length).toBe(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await chronicle.listRuns("sdk-browse").page({ limit: 2, cursor: first.next_cursor! });
    expect(second.items.length).toBe(1);
    expect(second.next_cursor).toBeNull();
  });

  test("tokens are created, listed and revoked; a revoked token is refused", async () => {
    const created = await chronicle.createToken({ name: "sdk trainer", scope: "write" });
    expect(created.token).toMatch(/^mth_/);
    expect((await chronicle.listTokens().all()).map((t) => t.id)).toContain(created.id);
    const trainer = new Chronicle({ baseUrl: server.url, token: created.token });
    await trainer.createExperiment({ id: "sdk-token" });
    const refused = await trainer.createToken({ name: "escalate", scope: "admin" }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 403 });
    await chronicle.revokeToken(created.id);
    expect((await chronicle.listTokens().all()).map((t) => t.id)).not.toContain(created.id);
    await expect(trainer.getExperiment("sdk-token")).rejects.toBeInstanceOf(AuthError);
    expect(await chronicle.ready()).toMatchObject({ status: "ok" });
  });
});

describe("errors are typed", () => {
  test("404 NotFoundError, 409 ConflictError, 401 AuthError, 400 ValidationError", async () => {
    const missing = await chronicle.getExperiment("sdk-missing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: "experiment_not_found" });

    await chronicle.createExperiment({ id: "sdk-errors" });
    const again = await chronicle.createExperiment({ id: "sdk-errors" }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ConflictError);
    expect(again).toMatchObject({ status: 409, code: "already_exists" });

    const run = chronicle.run("sdk-errors", "v", 0);
    await run.start();
    await run.succeed();
    const finished = await run.start().catch((e: unknown) => e);
    expect(finished).toMatchObject({ code: "run_finished" });

    const stranger = new Chronicle({ baseUrl: server.url, token: "mth_nobody" });
    const denied = await stranger.getExperiment("sdk-errors").catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AuthError);
    expect(denied).toMatchObject({ status: 401, code: "unauthorized" });

    const invalid = await chronicle.createExperiment({ id: "-bad" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).details).toMatchObject({ fields: [{ in: "body", path: "id" }] });
  });

  test("an unreachable server is a clear error, not a hang", async () => {
    const nowhere = new Chronicle({ baseUrl: "http://127.0.0.1:9", token: "x" });
    const err = await nowhere.createExperiment({ id: "x" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: "network_error" });
    expect((err as Error).message).toContain("did not answer");
  });
});
