import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ADMIN_TOKEN } from "@methodic/server/testing";
import { describe, expect, test } from "vitest";
import { downloadAsset } from "../src/download.js";
import { Chronicle, ChronicleError, ConflictError, ValidationError } from "../src/index.js";
import {
  assetOf,
  checkpoint,
  countingFetch,
  downloadServer,
  expectFiles,
  interrupted,
  sha256,
  staged,
  tempDir,
} from "./download-fixtures.js";

const ctx = downloadServer();

/** The answer with a body that fails after `limit` bytes, as a reset connection does. */
function breakOff(res: Response, limit: number): Response {
  const reader = res.body!.getReader();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done || sent >= limit) {
        await reader.cancel();
        controller.error(new Error("connection reset"));
        return;
      }
      const chunk = value.subarray(0, limit - sent);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

describe("downloadAsset", () => {
  test("writes every component byte for byte, nested paths included, reporting progress", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-full", files);
    const dir = join(await tempDir(), "out");
    const progress: { path: string; bytes: number; totalBytes: number }[] = [];
    const result = await downloadAsset(ctx.chronicle.transport, id, dir, { onProgress: (p) => progress.push(p) });

    await expectFiles(dir, files);
    expect(result.map((f) => f.path).sort()).toEqual([...files.keys()].sort());
    for (const f of result) {
      const bytes = files.get(f.path)!;
      expect(f).toEqual({ path: f.path, size: bytes.length, sha256: sha256(bytes), file: join(dir, f.path) });
    }
    const total = [...files.values()].reduce((sum, b) => sum + b.length, 0);
    expect(progress.at(-1)).toMatchObject({ bytes: total, totalBytes: total });
  });

  test("keeps a file that is already right, and replaces one that is not", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-keep", files);
    const dir = await tempDir();
    await downloadAsset(ctx.chronicle.transport, id, dir);

    const again = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: again.fetch });
    expect(again.calls).toEqual([]);

    // Same size, other bytes: fetched again, and only that one.
    await writeFile(join(dir, "model.bin"), randomBytes(files.get("model.bin")!.length));
    const repair = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: repair.fetch });
    expect(repair.calls).toHaveLength(1);
    await expectFiles(dir, files);
  });

  test("resumes what an interrupted download staged, with a Range request from its end", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-resume", files);
    const dir = await tempDir();
    const [partial, ...others] = await interrupted(ctx.chronicle, id, dir, "model.bin");
    expect(others).toEqual([]);
    const kept = (await stat(partial!)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(files.get("model.bin")!.length);

    const counting = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch });
    expect(counting.calls.filter((c) => c.range !== null).map((c) => c.range)).toEqual([`bytes=${kept}-`]);
    await expectFiles(dir, files);
  });

  test("a corrupt staged file ends in a clear error, and neither it nor a final file is left", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-corrupt", files);
    const dir = await tempDir();
    const [partial] = await interrupted(ctx.chronicle, id, dir, "model.bin");
    await writeFile(partial!, randomBytes((await stat(partial!)).size));

    const err = await downloadAsset(ctx.chronicle.transport, id, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChronicleError);
    expect(err).toMatchObject({ code: "internal", message: expect.stringContaining("model.bin") });
    expect(await readdir(dir)).not.toContain("model.bin");
    expect(await staged(dir, id)).toEqual([]);

    // The next call starts afresh and succeeds.
    await downloadAsset(ctx.chronicle.transport, id, dir);
    await expectFiles(dir, files);
  });

  test("a body that breaks off is retried from the bytes received", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-retry", files);
    const dir = await tempDir();
    // model.bin (component 0): the first GET breaks off after 300 000 bytes, the second answers 503.
    let modelGets = 0;
    const flaky: typeof fetch = async (input, init) => {
      if (!new URL(String(input)).pathname.endsWith("/0")) return fetch(input, init);
      modelGets++;
      if (modelGets === 2) return new Response("busy", { status: 503 });
      const res = await fetch(input, init);
      return modelGets === 1 ? breakOff(res, 300_000) : res;
    };
    const counting = countingFetch(flaky);
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch, concurrency: 1 });
    const ranges = counting.calls.map((c) => c.range).filter((r) => r !== null);
    expect(ranges).toHaveLength(2);
    // Resumed from what reached the disk: at most what was sent, the same for both tries.
    const from = Number(ranges[0]?.match(/^bytes=(\d+)-$/)?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(300_000);
    expect(ranges[1]).toBe(ranges[0]);
    expect(modelGets).toBe(3);
    await expectFiles(dir, files);
  });

  test("a URL storage refuses (403, as when expired) gets fresh URLs once", async () => {
    const files = new Map([["weights.bin", randomBytes(4096)]]);
    const id = await assetOf(ctx.server.url, "dl-expired", files);
    const routeCalls: string[] = [];
    const client = new Chronicle({
      baseUrl: ctx.server.url,
      token: ADMIN_TOKEN,
      fetch: (input, init) => {
        routeCalls.push(String(input));
        return fetch(input, init);
      },
    });
    const dir = await tempDir();
    // How storage answers an expired URL. s3rver checks no signature or expiry, so the refusal is
    // staged in front of the storage request on both drivers.
    const expired = async () =>
      new Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", { status: 403 });
    let first = true;
    const spoiled: typeof fetch = (input, init) => {
      if (!first) return fetch(input, init);
      first = false;
      return expired();
    };
    await downloadAsset(client.transport, id, dir, { fetch: spoiled });
    expect(routeCalls.filter((u) => u.endsWith(`/v1/assets/${id}/download`))).toHaveLength(2);
    await expectFiles(dir, files);

    // Refused again with the fresh URL: an AuthError, not a loop.
    const err = await downloadAsset(client.transport, id, await tempDir(), { fetch: expired }).catch((e) => e);
    expect(err).toMatchObject({ name: "AuthError", status: 403 });
  });

  test("a pending asset is a ConflictError (asset_not_ready)", async () => {
    const id = await assetOf(ctx.server.url, "dl-pending", checkpoint(), { finalize: false });
    const err = await downloadAsset(ctx.chronicle.transport, id, await tempDir()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ status: 409, code: "asset_not_ready" });
  });

  test.each([
    "../escape.txt",
    "ok/../../escape.txt",
    "/tmp/escape.txt",
    "sub\\..\\..\\escape.txt",
    "a/./b",
    "nul\0.txt",
    // Where downloads are staged, and the first component's path as a folder.
    ".methodic-download/x",
    "first.txt/inner",
  ])("refuses the component path %j before writing anything", async (bad) => {
    const files = new Map([
      ["first.txt", Buffer.from("fine")],
      ["second.txt", Buffer.from("also fine")],
    ]);
    const id = await assetOf(ctx.server.url, `dl-escape-${sha256(Buffer.from(bad)).slice(0, 8)}`, files);
    // The server cannot be made to store such a path: rewrite its answer on the way in.
    const client = new Chronicle({
      baseUrl: ctx.server.url,
      token: ADMIN_TOKEN,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (!String(input).endsWith("/download")) return res;
        const plan = (await res.json()) as { components: { path: string }[] };
        plan.components[1]!.path = bad;
        return Response.json(plan, { status: res.status });
      },
    });
    const parent = await tempDir();
    const dir = join(parent, "target");
    const counting = countingFetch();
    const err = await downloadAsset(client.transport, id, dir, { fetch: counting.fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ status: 400, code: "invalid_request" });
    expect(counting.calls).toEqual([]);
    expect(await readdir(parent)).toEqual([]);
    await expect(readFile(join(dirname(dir), "escape.txt"))).rejects.toThrow();
  });
});
