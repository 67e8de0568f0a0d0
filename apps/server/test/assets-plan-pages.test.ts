import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import type { LocalBlobStore } from "../src/storage/local.js";
import { type Api, describe, expect, startApp, storage, test } from "./support/app.js";
import {
  assetCall,
  createAsset,
  createFiles,
  downloadAll,
  type File,
  finalize,
  getAsset,
  MiB,
  manifest,
  PART_SIZE,
  type Plan,
  pieces,
  startRun,
  text,
  upload,
} from "./support/assets.js";

/** The server's default for METHODIC_PLAN_MAX_PIECES. */
const PLAN_MAX_PIECES = 1000;
const BIG_PART = 64 * MiB;
const PARTS = 10_000;
const FAKE_SHA256 = "0".repeat(64);

interface Declared {
  path: string;
  size: number;
}

/**
 * A create body that declares files without having their bytes: a few bytes per file on the local
 * disk, and on S3, which requires them, each big file's part hashes too.
 */
function declared(components: Declared[], partSize: number) {
  return {
    asset_type: "checkpoint",
    part_size: partSize,
    components: components.map(({ path, size }) => ({
      path,
      size,
      sha256: FAKE_SHA256,
      ...(storage === "s3" &&
        size > partSize && { part_sha256: Array.from({ length: Math.ceil(size / partSize) }, () => FAKE_SHA256) }),
    })),
  };
}

/** Each piece of the declared files, in manifest order, as `path#part`. */
function allPieces(components: Declared[], partSize: number): string[] {
  return components.flatMap(({ path, size }) =>
    Array.from({ length: size === 0 ? 0 : Math.ceil(size / partSize) }, (_, i) => `${path}#${i + 1}`),
  );
}

/** A plan's pieces as `path#part`, single PUTs as part 1. */
const keysOf = (plan: Plan) =>
  plan.components.flatMap((c) => ("parts" in c ? c.parts.map((p) => `${c.path}#${p.part_number}`) : [`${c.path}#1`]));

/**
 * The report of a plan's pieces without sending their bytes: on the local disk the ETags it would
 * have answered (it checks them), on S3 anything (it checks at finalize).
 */
function reportOf(api: Api, assetId: string, plan: Plan, components: Declared[]) {
  const index = new Map(components.map((c, i) => [c.path, i]));
  return plan.components.flatMap((c) => {
    const at = index.get(c.path)!;
    const entries =
      "parts" in c
        ? c.parts.map((p) => ({ part_number: p.part_number, size: p.size }))
        : [{ part_number: undefined, size: components[at]!.size }];
    return entries.map(({ part_number, size }) => ({
      path: c.path,
      ...(part_number !== undefined && { part_number }),
      etag:
        storage === "local"
          ? (api.app.storage as LocalBlobStore).etagOf(assetId, at, { partNumber: part_number ?? 1, size })
          : `"fake-${at}-${part_number ?? 1}"`,
    }));
  });
}

/**
 * Follows an asset's plan page by page, reporting each page: every piece must come exactly once, in
 * manifest order, at most a page's worth at a time. Stops after `pages` pages (all of them unless told).
 */
async function follow(api: Api, id: string, first: Plan, components: Declared[], pages = Number.POSITIVE_INFINITY) {
  const expected = allPieces(components, BIG_PART);
  let next = 0;
  let plan = first as Plan & { truncated: boolean };
  for (let page = 0; page < pages; page++) {
    const keys = keysOf(plan);
    expect(keys.length, `page ${page}`).toBeGreaterThan(0);
    expect(keys.length, `page ${page}`).toBeLessThanOrEqual(PLAN_MAX_PIECES);
    expect(plan.truncated, `page ${page}`).toBe(next + keys.length < expected.length);
    for (const key of keys) {
      // Exactly the next piece of the manifest: none skipped, none planned twice.
      if (key !== expected[next]) expect(key, `piece ${next} (page ${page})`).toBe(expected[next]);
      next++;
    }
    const parts = reportOf(api, id, plan, components);
    const reported = await assetCall(api, id, "parts", { parts });
    expect(reported.status, JSON.stringify(reported.body)).toBe(200);
    const res = await assetCall(api, id, "uploads");
    expect(res.status).toBe(200);
    plan = res.body.upload;
    if (next === expected.length) {
      expect(plan).toMatchObject({ components: [], truncated: false });
      return next;
    }
  }
  return next;
}

describe("an asset of very many pieces", () => {
  const big = (i: number, parts = PARTS): Declared => ({
    path: `shards/${String(i).padStart(2, "0")}.bin`,
    size: parts * BIG_PART - 1,
  });

  test("of 20 files of 10,000 parts is planned 1,000 pieces at a time, from create and from /uploads", async ({
    api,
  }) => {
    const ref = await startRun(api, "pages-huge");
    const components: Declared[] = Array.from({ length: 20 }, (_, i) => big(i));
    const created = await createAsset(api, ref, declared(components, BIG_PART));
    expect(created.status, JSON.stringify(created.body).slice(0, 500)).toBe(201);
    const id: string = created.body.asset.id;
    expect(keysOf(created.body.upload)).toHaveLength(PLAN_MAX_PIECES);
    expect(created.body.upload.truncated).toBe(true);

    // Asked again before anything is reported, the same page.
    const again = await assetCall(api, id, "uploads");
    expect(again.status).toBe(200);
    expect(keysOf(again.body.upload)).toEqual(keysOf(created.body.upload));
    expect(again.body.upload.truncated).toBe(true);

    // Each report moves the next page on by exactly what it recorded.
    expect(await follow(api, id, again.body.upload, components, 3)).toBe(3 * PLAN_MAX_PIECES);
    expect((await getAsset(api, id)).uploaded_size).toBe(3 * PLAN_MAX_PIECES * BIG_PART);
  });

  test("following the pages reaches every piece once, across files split between pages", async ({ api }) => {
    const ref = await startRun(api, "pages-walk");
    // Files of 2,500 parts among 1,500 small ones, in no sorted order: 9,000 pieces, 9 pages.
    const small = (name: string, n: number) =>
      Array.from({ length: n }, (_, i): Declared => ({ path: `${name}/${i}.json`, size: 10 + i }));
    const components: Declared[] = [
      ...small("z", 700),
      big(0, 2_500),
      { path: "empty", size: 0 },
      big(1, 2_500),
      ...small("m", 800),
      big(2, 2_500),
    ];
    const created = await createAsset(api, ref, declared(components, BIG_PART));
    expect(created.status).toBe(201);
    const id: string = created.body.asset.id;
    expect(await follow(api, id, created.body.upload, components)).toBe(9_000);
    const asset = await getAsset(api, id);
    expect(asset.uploaded_size).toBe(asset.size);
  });
});

describe("a plan that fits", () => {
  test("is whole and says truncated: false, from create, /uploads and a ready asset", async ({ api }) => {
    const ref = await startRun(api, "pages-small");
    const files = [text("a.txt", "alpha"), text("b.txt", "bravo")];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    expect(plan).toMatchObject({ truncated: false });
    expect(keysOf(plan).sort()).toEqual(["a.txt#1", "b.txt#1"]);
    const again = await assetCall(api, asset.id, "uploads");
    expect(again.body.upload).toMatchObject({ truncated: false });
    expect(keysOf(again.body.upload).sort()).toEqual(["a.txt#1", "b.txt#1"]);
    await upload(api, plan, files);
    await finalize(api, asset.id);
    const done = await assetCall(api, asset.id, "uploads");
    expect(done.body.upload).toMatchObject({ components: [], truncated: false });
  });

  test("exactly the limit is one whole page", async ({ api }) => {
    const ref = await startRun(api, "pages-exact");
    const components = [{ path: "f.bin", size: PLAN_MAX_PIECES * BIG_PART }];
    const res = await createAsset(api, ref, declared(components, BIG_PART));
    expect(res.status).toBe(201);
    expect(keysOf(res.body.upload)).toEqual(allPieces(components, BIG_PART));
    expect(res.body.upload.truncated).toBe(false);
  });
});

describe("/parts with 10,000 entries", () => {
  const components: Declared[] = [
    { path: "small.json", size: 100 },
    // 9,999 parts, the last of 5 bytes.
    { path: "weights.bin", size: (PARTS - 2) * BIG_PART + 5 },
  ];
  /** A report of every piece, as a plan of all of them would have it. */
  const all = (api: Api, id: string) => {
    const parts = Array.from({ length: PARTS - 1 }, (_, i) => ({
      part_number: i + 1,
      offset: i * BIG_PART,
      size: i === PARTS - 2 ? 5 : BIG_PART,
      url: "http://x/",
    }));
    const plan: Plan = {
      expires_at: "",
      components: [
        { path: "small.json", url: "http://x/", method: "PUT", headers: {} },
        { path: "weights.bin", part_size: BIG_PART, parts },
      ],
    };
    return reportOf(api, id, plan, components);
  };

  async function fresh(api: Api, name: string) {
    const ref = await startRun(api, name);
    const res = await createAsset(api, ref, declared(components, BIG_PART));
    expect(res.status).toBe(201);
    return res.body.asset.id as string;
  }

  test("records every piece of a valid report", async ({ api }) => {
    const id = await fresh(api, "parts-10k-ok");
    const parts = all(api, id);
    expect(parts).toHaveLength(PARTS);
    const res = await assetCall(api, id, "parts", { parts });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.asset.uploaded_size).toBe(100 + (PARTS - 2) * BIG_PART + 5);
    const plan = await assetCall(api, id, "uploads");
    expect(plan.body.upload).toMatchObject({ components: [], truncated: false });
  });

  test.for([
    ["an unknown path", (p: any) => ({ ...p, path: "nope.bin" }), "path", "is not a component of this asset"],
    ["a part past the file's end", (p: any) => ({ ...p, part_number: PARTS }), "part_number", "is not a part"],
    [
      "a second part of a single PUT",
      () => ({ path: "small.json", part_number: 2, etag: '"x"' }),
      "part_number",
      "is not a part",
    ],
    ["a multipart piece without its part number", ({ part_number: _, ...p }: any) => p, "part_number", "is required"],
  ] as const)("refuses %s in the last entry and records none of them", async ([, spoil, field, message], { api }) => {
    const id = await fresh(api, `parts-10k-${field}-${message.length}-${String(spoil).length}`);
    const parts = all(api, id);
    parts[PARTS - 1] = spoil(parts[PARTS - 1]);
    const res = await assetCall(api, id, "parts", { parts });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields).toEqual([
      { in: "body", path: `parts.${PARTS - 1}.${field}`, message: expect.stringContaining(message) },
    ]);
    expect((await getAsset(api, id)).uploaded_size).toBe(0);
  });
});

describe("with METHODIC_PLAN_MAX_PIECES=3", () => {
  let api: Api;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, close } = await startApp({ METHODIC_PLAN_MAX_PIECES: "3", METHODIC_PART_SIZE: String(PART_SIZE) }));
  });
  afterAll(async () => close());

  test("a client that uploads, reports and asks for each next page sends every byte once, and finalizes", async () => {
    const ref = await startRun(api, "pages-bytes");
    const files: File[] = [
      text("config.json", '{"lr": 0.1}'),
      { path: "model/weights.bin", bytes: randomBytes(2 * PART_SIZE + 12_345) },
      { path: "model/empty", bytes: Buffer.alloc(0) },
      ...Array.from({ length: 5 }, (_, i) => ({ path: `shards/${i}`, bytes: randomBytes(1000 + i) })),
    ];
    const created = await createFiles(api, ref, files, { part_size: PART_SIZE });
    const id: string = created.asset.id;

    const sent: string[] = [];
    let plan = created.upload as Plan & { truncated: boolean };
    for (;;) {
      const page = pieces(plan, files);
      expect(page.length).toBeGreaterThan(0);
      expect(page.length).toBeLessThanOrEqual(3);
      sent.push(...keysOf(plan));
      const reported = await upload(api, plan, files);
      if (storage === "local") {
        // The local disk records what it receives; a report is harmless.
        expect((await assetCall(api, id, "parts", { parts: reported })).status).toBe(200);
      }
      if (!plan.truncated) break;
      const res = await assetCall(api, id, "uploads");
      expect(res.status).toBe(200);
      plan = res.body.upload;
    }
    expect(sent).toEqual([
      "config.json#1",
      "model/weights.bin#1",
      "model/weights.bin#2",
      "model/weights.bin#3",
      ...files.slice(3).map((f) => `${f.path}#1`),
    ]);
    const ready = await finalize(api, id);
    expect(ready).toMatchObject({ state: "ready", uploaded_size: ready.size });
    const got = await downloadAll(api, id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes), file.path).toBe(true);
  });

  test("a create repeated with its Idempotency-Key answers the first page of what is missing", async () => {
    const ref = await startRun(api, "pages-replay");
    const files = Array.from({ length: 5 }, (_, i) => text(`f${i}`, `file ${i}`));
    const headers = { "idempotency-key": "pages-replay-key" };
    const body = { asset_type: "checkpoint", components: manifest(files) };
    const first = await createAsset(api, ref, body, headers);
    expect(first.status).toBe(201);
    expect(keysOf(first.body.upload)).toEqual(["f0#1", "f1#1", "f2#1"]);
    expect(first.body.upload.truncated).toBe(true);
    await upload(api, first.body.upload, files);
    const replay = await createAsset(api, ref, body, headers);
    expect(replay.status).toBe(201);
    expect(replay.body.asset.id).toBe(first.body.asset.id);
    expect(keysOf(replay.body.upload)).toEqual(["f3#1", "f4#1"]);
    expect(replay.body.upload.truncated).toBe(false);
  });
});
