import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { request } from "node:http";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startServer, type TestServer } from "../src/testing/index.js";
import { type Api, apiFor } from "./support/app.js";
import {
  assetCall,
  bytesOf,
  createAsset,
  createFiles,
  downloadAll,
  type File,
  finalize,
  getAsset,
  local,
  MiB,
  manifest,
  PART_SIZE,
  type Piece,
  type Plan,
  pieces,
  put,
  putPiece,
  sha256,
  sleep,
  startRun,
  upload,
} from "./support/assets.js";

// The local driver sees every byte: a piece is hashed as it arrives, and only a pending asset takes it.
let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startServer({ storage: "local", env: { METHODIC_PART_SIZE: String(PART_SIZE) } });
  api = apiFor(server.app);
});
afterAll(async () => server?.close());

const assetDir = (id: string) => join(server.config.dataDir, "blobs", id);

/** Every file under a folder (relative path → size and mtime), none when it does not exist. */
async function tree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path, { bigint: true }).catch(() => undefined);
    if (info) files.set(relative(dir, path), `${info.size}@${info.mtimeNs}`);
  }
  return files;
}

const same = (a: Map<string, string>, b: Map<string, string>) =>
  a.size === b.size && [...a].every(([path, what]) => b.get(path) === what);

/** The files the asset's folder holds besides its components (named by their index). */
async function leftovers(id: string): Promise<string[]> {
  return [...(await tree(assetDir(id))).keys()].filter((path) => !/^\d+$/.test(path));
}

/** A component asset whose files larger than PART_SIZE come without part hashes (allowed on the local disk). */
async function createWithoutPartHashes(files: File[], exp: string): Promise<{ asset: any; upload: Plan }> {
  const res = await createAsset(api, await startRun(api, exp), {
    asset_type: "checkpoint",
    part_size: PART_SIZE,
    components: manifest(files),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** A PUT over real HTTP whose body the test sends when it likes, as a slow link would. */
function heldPut(piece: Piece) {
  const req = request(`${server.url}${local(piece.url)}`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "content-length": String(piece.size) },
  });
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on("error", reject);
  });
  return { req, answer };
}

/** Resolves once something under the asset's folder differs from `before`: the server is writing. */
async function changed(id: string, before: Map<string, string>): Promise<Map<string, string>> {
  for (let waited = 0; waited < 120_000; waited += 20) {
    const now = await tree(assetDir(id));
    if (!same(before, now)) return now;
    await sleep(20);
  }
  throw new Error("the server never wrote any of the held PUT's bytes");
}

const flipped = (bytes: Buffer, at: number) => {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
};

describe("a PUT racing finalize", () => {
  test("a PUT still streaming when finalize commits is 409 asset_state_conflict, and the ready asset stays byte-exact", async () => {
    const files: File[] = [
      { path: "single.bin", bytes: randomBytes(2 * MiB) },
      { path: "parts.bin", bytes: randomBytes(PART_SIZE + MiB) },
    ];
    const { asset, upload: plan } = await createWithoutPartHashes(files, "race");
    await upload(api, plan, files);

    // Two PUTs of pieces already received, held open halfway: the single file again with its own
    // bytes, and a part (no part hash to check it by) with other bytes of the same length.
    const single = pieces(plan, files).find((p) => p.path === "single.bin")!;
    const part = pieces(plan, files).find((p) => p.path === "parts.bin" && p.part_number === 1)!;
    const bodies = [bytesOf(single, files), randomBytes(part.size)];
    const held = [heldPut(single), heldPut(part)];
    let seen = await tree(assetDir(asset.id));
    for (const [i, put] of held.entries()) {
      put.req.write(bodies[i]!.subarray(0, MiB));
      seen = await changed(asset.id, seen);
    }

    expect((await finalize(api, asset.id)).state).toBe("ready");
    for (const [i, put] of held.entries()) put.req.end(bodies[i]!.subarray(MiB));
    const answers = await Promise.all(held.map((put) => put.answer));
    // Nor does a PUT sent once it is ready.
    const late = await put(api, part.url, randomBytes(part.size));

    expect(await getAsset(api, asset.id)).toMatchObject({ state: "ready", uploaded_size: asset.size });
    const got = await downloadAll(api, asset.id);
    for (const file of files) expect(sha256(got.get(file.path)!), file.path).toBe(sha256(file.bytes));
    for (const res of answers) {
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("asset_state_conflict");
    }
    expect(late.status).toBe(409);
    expect(JSON.parse(late.text).error.code).toBe("asset_state_conflict");
    expect(await leftovers(asset.id)).toEqual([]);
  });
});

describe("wrong bytes of the right length", () => {
  test("of a single-PUT file are refused at the PUT naming both hashes; nothing is kept, and the right bytes finalize", async () => {
    const files: File[] = [{ path: "w.bin", bytes: randomBytes(100_000) }];
    const { asset, upload: plan } = await createFiles(api, await startRun(api, "wrong-single"), files);
    const [piece] = pieces(plan, files);
    const wrong = flipped(files[0]!.bytes, 99_999);
    const res = await put(api, piece!.url, wrong);
    expect(res.status).toBe(400);
    const { error } = JSON.parse(res.text);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(sha256(files[0]!.bytes));
    expect(error.message).toContain(sha256(wrong));
    expect(error.details).toMatchObject({ expected_sha256: sha256(files[0]!.bytes), received_sha256: sha256(wrong) });
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(0);
    expect(await leftovers(asset.id)).toEqual([]);

    const refused = await assetCall(api, asset.id, "finalize");
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "asset_incomplete", details: { missing: [{ path: "w.bin" }] } });
    expect((await getAsset(api, asset.id)).state).toBe("pending");

    await putPiece(api, piece!, files);
    await finalize(api, asset.id);
    expect((await downloadAll(api, asset.id)).get("w.bin")!.equals(files[0]!.bytes)).toBe(true);
  });

  test("of a multipart file without part hashes never become ready: 409 naming every part, re-planned, then the right bytes finalize", async () => {
    const files: File[] = [
      { path: "big.bin", bytes: randomBytes(2 * PART_SIZE + 1000) },
      { path: "ok.bin", bytes: randomBytes(PART_SIZE + 10) },
    ];
    const { asset, upload: plan } = await createWithoutPartHashes(files, "wrong-parts");
    for (const piece of pieces(plan, files)) {
      const bytes = bytesOf(piece, files);
      const sent = piece.path === "big.bin" && piece.part_number === 2 ? flipped(bytes, 12345) : bytes;
      expect((await put(api, piece.url, sent)).status).toBe(200);
    }
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(asset.size);

    // However many ask at once, one verdict.
    const answers = await Promise.all(Array.from({ length: 5 }, () => assetCall(api, asset.id, "finalize")));
    for (const res of answers) {
      expect(res.status).toBe(409);
      expect({ ...res.body.error, request_id: "" }).toEqual({ ...answers[0]!.body.error, request_id: "" });
    }
    const { error } = answers[0]!.body;
    expect(error.code).toBe("asset_incomplete");
    expect(error.details.missing).toEqual([{ path: "big.bin", part_numbers: [1, 2, 3] }]);
    expect(error.message).toMatch(/big\.bin.*sha256/);
    expect(await getAsset(api, asset.id)).toMatchObject({ state: "pending", uploaded_size: files[1]!.bytes.length });
    expect((await api.request({ method: "GET", url: `/v1/assets/${asset.id}/download` })).status).toBe(409);
    expect((await leftovers(asset.id)).filter((path) => path.includes("incoming"))).toEqual([]);

    const replan = (await assetCall(api, asset.id, "uploads")).body.upload as Plan;
    expect(pieces(replan, files).map((p) => [p.path, p.part_number])).toEqual([
      ["big.bin", 1],
      ["big.bin", 2],
      ["big.bin", 3],
    ]);
    await upload(api, replan, files);
    await finalize(api, asset.id);
    const got = await downloadAll(api, asset.id);
    for (const file of files) expect(sha256(got.get(file.path)!), file.path).toBe(sha256(file.bytes));
    expect(await leftovers(asset.id)).toEqual([]);
  });

  test("of a part with a part hash are refused at the PUT naming both hashes, and nothing is recorded", async () => {
    const files: File[] = [{ path: "big.bin", bytes: randomBytes(PART_SIZE + 4096) }];
    const { asset, upload: plan } = await createFiles(api, await startRun(api, "wrong-hashed-part"), files);
    const second = pieces(plan, files).find((p) => p.part_number === 2)!;
    const wrong = flipped(bytesOf(second, files), 0);
    const res = await put(api, second.url, wrong);
    expect(res.status).toBe(400);
    const { error } = JSON.parse(res.text);
    expect(error.code).toBe("invalid_request");
    expect(error.details).toMatchObject({
      expected_sha256: sha256(bytesOf(second, files)),
      received_sha256: sha256(wrong),
    });
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(0);
    expect(await leftovers(asset.id)).toEqual([]);

    await upload(api, plan, files);
    await finalize(api, asset.id);
    expect((await downloadAll(api, asset.id)).get("big.bin")!.equals(files[0]!.bytes)).toBe(true);
  });
});

test("abort of a pending asset removes everything of it, a PUT streaming meanwhile included", async () => {
  const files: File[] = [
    { path: "big.bin", bytes: randomBytes(PART_SIZE + 10) },
    { path: "small", bytes: randomBytes(2 * MiB) },
  ];
  const { asset, upload: plan } = await createFiles(api, await startRun(api, "abort-all"), files);
  await upload(api, plan, files, (piece) => piece.path === "big.bin" && piece.part_number === 1);
  const small = pieces(plan, files).find((p) => p.path === "small")!;
  const held = heldPut(small);
  const before = await tree(assetDir(asset.id));
  held.req.write(bytesOf(small, files).subarray(0, MiB));
  await changed(asset.id, before);

  expect((await assetCall(api, asset.id, "abort")).status).toBe(200);
  held.req.end(bytesOf(small, files).subarray(MiB));
  const res = await held.answer;
  expect(res.status).toBe(409);
  expect(res.body.error.code).toBe("asset_aborted");
  expect(await readdir(assetDir(asset.id)).catch((err) => err.code)).toBe("ENOENT");
});
