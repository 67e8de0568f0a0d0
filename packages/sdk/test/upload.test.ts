import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Chronicle } from "../src/index.js";

const MiB = 1024 * 1024;
let server: Awaited<ReturnType<typeof startServer>>;
let chronicle: Chronicle;

beforeAll(async () => {
  server = await startServer();
  chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, partSize: 5 * MiB });
});
afterAll(() => server.close());

/** A checkpoint directory: a 12 MiB file (three parts), a nested small one and an empty one. */
async function checkpoint(bigMiB = 12): Promise<{ dir: string; files: Map<string, Buffer> }> {
  const dir = await mkdtemp(join(tmpdir(), "methodic-ckpt-"));
  const files = new Map([
    ["model.safetensors", randomBytes(bigMiB * MiB + 17)],
    ["optimizer/state.bin", randomBytes(4096)],
    ["empty", Buffer.alloc(0)],
  ]);
  for (const [path, bytes] of files) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return { dir, files };
}

async function startedRun(exp: string, run = 0) {
  await chronicle.createExperiment({ id: exp }).catch(() => {});
  const handle = chronicle.run(exp, "v", run);
  await handle.start();
  return handle;
}

/** Every file of a ready asset, through its download URLs. */
async function fetchAll(assetId: string): Promise<Map<string, Buffer>> {
  const res = await fetch(`${server.url}/v1/assets/${assetId}/download`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const plan = (await res.json()) as { components: { path: string; url: string; sha256: string }[] };
  const got = new Map<string, Buffer>();
  for (const c of plan.components) got.set(c.path, Buffer.from(await (await fetch(c.url)).arrayBuffer()));
  return got;
}

describe("uploadDirectoryAsync", () => {
  test("returns at once, reports progress, and ends with a ready asset holding the directory byte for byte", async () => {
    const run = await startedRun("up-dir");
    const { dir, files } = await checkpoint();
    const progress: number[] = [];
    const upload = run.uploadDirectoryAsync(dir, { asset_type: "checkpoint", name: "step-1" });
    upload.on("progress", (p: { bytesSent: number }) => progress.push(p.bytesSent));
    let settled = false;
    void upload.done.finally(() => {
      settled = true;
    });
    expect(settled).toBe(false);

    const asset = await upload.done;
    expect(asset).toMatchObject({
      state: "ready",
      asset_type: "checkpoint",
      name: "step-1",
      size: 12 * MiB + 17 + 4096,
    });
    expect(asset.components.map((c) => c.path)).toEqual(["empty", "model.safetensors", "optimizer/state.bin"]);
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(asset.size);
    expect(upload.assetId).toBe(asset.id);
    const got = await fetchAll(asset.id);
    for (const [path, bytes] of files) expect(got.get(path)?.equals(bytes), path).toBe(true);
    for (const c of asset.components) {
      expect(c.sha256).toBe(createHash("sha256").update(files.get(c.path)!).digest("hex"));
    }
  });

  test("a continuation run finds the newest checkpoint and downloads it byte-identical", async () => {
    const first = await startedRun("up-continue", 0);
    const { dir, files } = await checkpoint(6);
    await first.uploadDirectoryAsync(dir, { asset_type: "checkpoint" }).done;
    await first.succeed();

    const next = await startedRun("up-continue", 1);
    const latest = await next.latestOutput("checkpoint");
    expect(latest?.run).toBe(0);
    const target = await mkdtemp(join(tmpdir(), "methodic-restore-"));
    const restored = await next.downloadAsset(latest!.id, target);
    expect(restored.map((f) => f.path).sort()).toEqual([...files.keys()].sort());
    for (const [path, bytes] of files) expect((await readFile(join(target, path))).equals(bytes), path).toBe(true);
  });

  test("creates assets in call order, so the newest checkpoint is the last one started", async () => {
    const run = await startedRun("up-order");
    const big = await checkpoint(8);
    const small = await checkpoint(0);
    const first = run.uploadDirectoryAsync(big.dir, { asset_type: "checkpoint", name: "first" });
    const second = run.uploadDirectoryAsync(small.dir, { asset_type: "checkpoint", name: "second" });
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.id < b.id).toBe(true);
    expect((await run.latestOutput("checkpoint"))?.name).toBe("second");
  });

  test("succeed waits for pending uploads", async () => {
    const run = await startedRun("up-succeed");
    const { dir } = await checkpoint(6);
    const upload = run.uploadDirectoryAsync(dir, { asset_type: "checkpoint" });
    const done = await run.succeed();
    expect(done.state).toBe("succeeded");
    const outputs = await run.listOutputs().all();
    expect(outputs.map((a) => a.state)).toEqual(["ready"]);
    expect((await upload.done).id).toBe(outputs[0]!.id);
  });

  test("a file that changes during the upload fails it cleanly; succeed then rejects and the run stays running", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const run = await startedRun("up-changed");
      const { dir } = await checkpoint(12);
      const upload = run.uploadDirectoryAsync(dir, { asset_type: "checkpoint", concurrency: 1 });
      upload.once("progress", () => {
        void appendFile(join(dir, "model.safetensors"), "late write");
      });
      await expect(upload.done).rejects.toThrow(/model\.safetensors changed while it was being uploaded/);
      await expect(run.succeed()).rejects.toThrow(/changed while it was being uploaded/);
      expect((await run.get()).state).toBe("running");
      // Nothing corrupt became ready.
      expect((await run.listOutputs({ state: "ready" }).all()).length).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  test("a handle may upload without start() in this process, and a missing directory fails through done", async () => {
    await startedRun("up-nostart");
    const other = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN }).run("up-nostart", "v", 0);
    const { dir } = await checkpoint(0);
    expect((await other.uploadDirectoryAsync(dir, { asset_type: "snapshot" }).done).state).toBe("ready");
    const missing = other.uploadDirectoryAsync(join(dir, "nope"), { asset_type: "snapshot" });
    await expect(missing.done).rejects.toThrow(/ENOENT/);
  });
});
