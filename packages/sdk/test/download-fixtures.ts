import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, expect } from "vitest";
import { downloadAsset } from "../src/download.js";
import { Chronicle } from "../src/index.js";

/** A server of the test file's own, started before its tests, and a client of it. */
export function downloadServer() {
  const ctx = {} as { server: Awaited<ReturnType<typeof startServer>>; chronicle: Chronicle };
  beforeAll(async () => {
    ctx.server = await startServer();
    ctx.chronicle = new Chronicle({ baseUrl: ctx.server.url, token: ADMIN_TOKEN });
  });
  afterAll(() => ctx.server.close());
  return ctx;
}

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function api(baseUrl: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A checkpoint asset of a fresh run, uploaded and finalized over REST (without the SDK's upload code). */
export async function assetOf(
  baseUrl: string,
  exp: string,
  files: Map<string, Buffer>,
  { finalize = true } = {},
): Promise<string> {
  await api(baseUrl, "POST", "/v1/experiments", { id: exp });
  const run = `/v1/experiments/${exp}/variations/v/runs/0`;
  await api(baseUrl, "POST", `${run}/start`, {});
  const components = [...files].map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) }));
  const { asset, upload } = await api(baseUrl, "POST", `${run}/assets`, { asset_type: "checkpoint", components });
  if (!finalize) return asset.id;
  for (const c of upload.components as { path: string; url: string; headers: Record<string, string> }[]) {
    const res = await fetch(c.url, { method: "PUT", headers: c.headers, body: files.get(c.path) });
    expect(res.status).toBe(200);
  }
  await api(baseUrl, "POST", `/v1/assets/${asset.id}/finalize`);
  return asset.id;
}

/** A model file of a few MiB (several writes), a nested one, and an empty one. */
export function checkpoint(): Map<string, Buffer> {
  return new Map([
    ["model.bin", randomBytes(3 * 1024 * 1024 + 17)],
    ["nested/deep/tokenizer.json", Buffer.from(JSON.stringify({ vocab: ["a", "b"] }))],
    ["empty", Buffer.alloc(0)],
  ]);
}

/** A fetch that records the component GETs (URL and Range header) before passing them on. */
export function countingFetch(inner: typeof fetch = fetch) {
  const calls: { url: string; range: string | null }[] = [];
  const wrapped: typeof fetch = (input, init) => {
    calls.push({ url: String(input), range: new Headers(init?.headers).get("range") });
    return inner(input, init);
  };
  return { calls, fetch: wrapped };
}

/** Every file byte for byte, and nothing staged left behind. */
export async function expectFiles(dir: string, files: Map<string, Buffer>) {
  for (const [path, bytes] of files) {
    const got = await readFile(join(dir, path));
    expect(sha256(got)).toBe(sha256(bytes));
    expect(got.equals(bytes)).toBe(true);
  }
  const all = await readdir(dir, { recursive: true });
  expect(all.filter((f) => f.startsWith(".methodic-download"))).toEqual([]);
}

/** The files an interrupted download of `assetId` left staged in `dir`. */
export async function staged(dir: string, assetId: string): Promise<string[]> {
  const folder = join(dir, ".methodic-download", assetId);
  return (await readdir(folder)).map((name) => join(folder, name));
}

/**
 * A download of `assetId` into `dir`, one request at a time unless told, stopped once at least
 * `atLeast` bytes are on disk and `path` has some of them; the files it left staged.
 */
export async function interrupted(
  chronicle: Chronicle,
  assetId: string,
  dir: string,
  path: string,
  atLeast = 1,
  concurrency = 1,
): Promise<string[]> {
  const controller = new AbortController();
  const err = await downloadAsset(chronicle.transport, assetId, dir, {
    signal: controller.signal,
    concurrency,
    onProgress: (p) => {
      if (p.path === path && p.bytes >= atLeast) controller.abort();
    },
  }).catch((e: unknown) => e);
  expect(err).toMatchObject({ name: "AbortError" });
  await expect(readFile(join(dir, path))).rejects.toThrow();
  return (await staged(dir, assetId)).filter((file) => file.endsWith(".partial"));
}

export const tempDir = () => mkdtemp(join(tmpdir(), "methodic-dl-"));
