import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { type Api, startApp } from "./support/app.js";
import {
  assetCall,
  createFiles,
  download,
  downloadAll,
  type File,
  fetchBlob,
  finalize,
  getAsset,
  local,
  MiB,
  manifest,
  PART_SIZE,
  pieces,
  put,
  putPiece,
  readyAsset,
  sha256,
  startRun,
  text,
  upload,
} from "./support/assets.js";

const PUBLIC_URL = "https://chronicle.example.test:9443";

let api: Api;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ api, close } = await startApp({ METHODIC_PART_SIZE: String(PART_SIZE), METHODIC_PUBLIC_URL: PUBLIC_URL }));
});
afterAll(async () => close());
afterEach(() => {
  vi.useRealTimers();
});

function expectForbidden(res: { status: number; text?: string; bytes?: Buffer }, what: string) {
  expect(res.status, what).toBe(403);
  const body = JSON.parse(res.text ?? res.bytes!.toString());
  expect(body.error.code, what).toBe("forbidden");
  expect(body.error.message).toEqual(expect.any(String));
}

describe("a multi-file asset", () => {
  test("round-trips byte for byte: 12 MiB in 3 parts, two small files and an empty one", async () => {
    const ref = await startRun(api, "bytes");
    const files: File[] = [
      { path: "model/weights.safetensors", bytes: randomBytes(12 * MiB) },
      { path: "model/config.json", bytes: randomBytes(1000) },
      { path: "tokenizer.bin", bytes: randomBytes(70_001) },
      { path: "model/EMPTY", bytes: Buffer.alloc(0) },
    ];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    expect(asset.size).toBe(12 * MiB + 71_001);
    const big = plan.components.find((c) => c.path === "model/weights.safetensors");
    expect(big && "parts" in big && big.parts.map((p) => p.size)).toEqual([PART_SIZE, PART_SIZE, 2 * MiB]);
    expect(plan.components.map((c) => c.path)).not.toContain("model/EMPTY");
    for (const piece of pieces(plan, files)) expect(piece.url.startsWith(`${PUBLIC_URL}/v1/blobs/`)).toBe(true);

    // The local driver records what it receives: no /parts needed.
    await upload(api, plan, files);
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(asset.size);
    const ready = await finalize(api, asset.id);
    expect(ready.state).toBe("ready");

    const dl = await download(api, asset.id);
    expect(Date.parse(dl.expires_at)).toBeGreaterThan(Date.now());
    expect(dl.components.map(({ path, size, sha256 }) => ({ path, size, sha256 }))).toEqual(
      expect.arrayContaining(manifest(files)),
    );
    expect(dl.components).toHaveLength(4);
    for (const component of dl.components) {
      expect(component.url.startsWith(`${PUBLIC_URL}/v1/blobs/`)).toBe(true);
      const res = await fetchBlob(api, component.url);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^application\/octet-stream/);
      expect(res.bytes.length).toBe(component.size);
      expect(sha256(res.bytes), component.path).toBe(component.sha256);
    }
  });
});

describe("multipart components (5 MiB parts)", () => {
  test("are planned as parts covering the file exactly; a file of exactly the part size is one PUT", async () => {
    const ref = await startRun(api, "mp-plan");
    const files: File[] = [
      { path: "big", bytes: randomBytes(12 * MiB) },
      { path: "edge", bytes: randomBytes(PART_SIZE) },
      { path: "edge-plus-one", bytes: randomBytes(PART_SIZE + 1) },
    ];
    const { upload: plan } = await createFiles(api, ref, files);
    const byPath = Object.fromEntries(plan.components.map((c) => [c.path, c]));
    expect(byPath.edge).toMatchObject({ method: "PUT", url: expect.any(String) });
    expect(byPath.big).toEqual({
      path: "big",
      part_size: PART_SIZE,
      parts: [
        { part_number: 1, offset: 0, size: PART_SIZE, url: expect.any(String) },
        { part_number: 2, offset: PART_SIZE, size: PART_SIZE, url: expect.any(String) },
        { part_number: 3, offset: 2 * PART_SIZE, size: 2 * MiB, url: expect.any(String) },
      ].map((part) => expect.objectContaining(part)),
    });
    expect(byPath["edge-plus-one"]).toMatchObject({
      part_size: PART_SIZE,
      parts: [
        { part_number: 1, offset: 0, size: PART_SIZE },
        { part_number: 2, offset: PART_SIZE, size: 1 },
      ],
    });
    const urls = pieces(plan, files).map((piece) => piece.url);
    expect(new Set(urls).size).toBe(urls.length);
  });

  test("missing parts are named by number, re-planned alone, and finalize completes the file", async () => {
    const ref = await startRun(api, "mp-missing");
    const files: File[] = [{ path: "weights/model.bin", bytes: randomBytes(12 * MiB) }, text("meta.json", "{}")];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    await upload(api, plan, files, (piece) => piece.part_number !== 2);
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(7 * MiB + 2);

    const res = await assetCall(api, asset.id, "finalize");
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: "asset_incomplete",
      details: { missing: [{ path: "weights/model.bin", part_numbers: [2] }] },
    });
    expect((await getAsset(api, asset.id)).state).toBe("pending");

    const replan = await assetCall(api, asset.id, "uploads");
    expect(replan.body.upload.components).toEqual([
      {
        path: "weights/model.bin",
        part_size: PART_SIZE,
        parts: [expect.objectContaining({ part_number: 2, offset: PART_SIZE, size: PART_SIZE })],
      },
    ]);
    const reported = await upload(api, replan.body.upload, files);
    expect(reported).toEqual([{ path: "weights/model.bin", part_number: 2, etag: expect.any(String) }]);
    expect((await assetCall(api, asset.id, "parts", { parts: reported })).status).toBe(200);
    const ready = await finalize(api, asset.id);
    expect(ready).toMatchObject({ state: "ready", size: 12 * MiB + 2, uploaded_size: 12 * MiB + 2 });
    const got = await downloadAll(api, asset.id);
    expect(sha256(got.get("weights/model.bin")!)).toBe(sha256(files[0]!.bytes));
  });

  test("a file with no part yet is named with all its part numbers", async () => {
    const ref = await startRun(api, "mp-none");
    const files: File[] = [{ path: "big", bytes: randomBytes(PART_SIZE + 10) }];
    const { asset } = await createFiles(api, ref, files);
    const res = await assetCall(api, asset.id, "finalize");
    expect(res.status).toBe(409);
    expect(res.body.error.details.missing).toEqual([{ path: "big", part_numbers: [1, 2] }]);
  });
});

describe("blob PUTs", () => {
  test("need no bearer token and take any content type", async () => {
    const ref = await startRun(api, "put-types");
    const types = ["application/octet-stream", "text/plain", "application/json", "image/png", "multipart/form-data"];
    const files = types.map((type, i) => ({ path: `f${i}`, bytes: randomBytes(100 + i), type }));
    const { asset, upload: plan } = await createFiles(api, ref, files);
    for (const piece of pieces(plan, files)) {
      const file = files.find((f) => f.path === piece.path)!;
      const res = await put(api, piece.url, file.bytes, { ...piece.headers, "content-type": file.type });
      expect(res.status, file.type).toBe(200);
    }
    await finalize(api, asset.id);
    const got = await downloadAll(api, asset.id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes), file.type).toBe(true);
  });

  test("refuse a body longer (413) or shorter (400) than the piece, and record neither", async () => {
    const ref = await startRun(api, "put-length");
    const files: File[] = [text("small", "exactly-this"), { path: "big", bytes: randomBytes(PART_SIZE + 100) }];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    const all = pieces(plan, files);
    expect(all).toHaveLength(3);
    for (const piece of all) {
      const exact = files.find((f) => f.path === piece.path)!.bytes.subarray(piece.offset, piece.offset + piece.size);
      const longer = await put(api, piece.url, Buffer.concat([exact, Buffer.from("!")]), piece.headers);
      expect(longer.status).toBe(413);
      expect(JSON.parse(longer.text).error.code).toBe("payload_too_large");
      const shorter = await put(api, piece.url, exact.subarray(0, exact.length - 1), piece.headers);
      expect(shorter.status).toBe(400);
      expect(JSON.parse(shorter.text).error.code).toBe("invalid_request");
    }
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(0);
    const replan = await assetCall(api, asset.id, "uploads");
    expect(pieces(replan.body.upload, files)).toHaveLength(3);
    const incomplete = await assetCall(api, asset.id, "finalize");
    expect(incomplete.body.error.code).toBe("asset_incomplete");

    for (const piece of all) await putPiece(api, piece, files);
    await finalize(api, asset.id);
    const got = await downloadAll(api, asset.id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes)).toBe(true);
  });

  test("a repeated PUT of the same piece is accepted and counted once", async () => {
    const ref = await startRun(api, "put-repeat");
    const files = [text("a", "aaaa")];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    const [piece] = pieces(plan, files);
    await putPiece(api, piece!, files);
    await putPiece(api, piece!, files);
    expect((await getAsset(api, asset.id)).uploaded_size).toBe(4);
  });
});

describe("signed URLs", () => {
  test("a changed query parameter, or another object's path, is 403 forbidden", async () => {
    const ref = await startRun(api, "sign-tamper");
    const files = [text("a", "alpha"), text("b", "bravo")];
    const first = await createFiles(api, ref, files);
    const second = await createFiles(api, ref, files);
    const [piece] = pieces(first.upload, files).filter((p) => p.path === "a");
    const url = new URL(piece!.url);
    const params = [...url.searchParams.keys()];
    expect(params.length).toBeGreaterThan(0);
    for (const key of params) {
      const tampered = new URL(url);
      const value = tampered.searchParams.get(key)!;
      tampered.searchParams.set(key, /^\d+$/.test(value) ? String(Number(value) + 1) : `${value}x`);
      expectForbidden(await put(api, tampered.toString(), Buffer.from("alpha"), piece!.headers), `changed ${key}`);
      const dropped = new URL(url);
      dropped.searchParams.delete(key);
      const res = await put(api, dropped.toString(), Buffer.from("alpha"), piece!.headers);
      expect(res.status, `dropped ${key}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `dropped ${key}`).toBeLessThan(500);
    }
    // The signature of asset 1's "a" does not hold for asset 2's "a", nor for asset 1's "b".
    const other = pieces(second.upload, files).find((p) => p.path === "a")!;
    const sibling = pieces(first.upload, files).find((p) => p.path === "b")!;
    for (const target of [other, sibling]) {
      const swapped = `${PUBLIC_URL}${new URL(target.url).pathname}${url.search}`;
      expectForbidden(await put(api, swapped, Buffer.from("alpha"), piece!.headers), target.url);
    }
    expect((await getAsset(api, first.asset.id)).uploaded_size).toBe(0);
    expect((await getAsset(api, second.asset.id)).uploaded_size).toBe(0);
  });

  test("an upload URL does not serve GET, and a download URL does not take PUT", async () => {
    const ref = await startRun(api, "sign-method");
    const files = [text("a", "alpha")];
    const created = await createFiles(api, ref, files);
    const [piece] = pieces(created.upload, files);
    expectForbidden(await fetchBlob(api, piece!.url), "GET of an upload URL");
    await upload(api, created.upload, files);
    expectForbidden(await fetchBlob(api, piece!.url), "GET of an upload URL once uploaded");
    await finalize(api, created.asset.id);

    const [component] = (await download(api, created.asset.id)).components;
    expectForbidden(await put(api, component!.url, Buffer.from("evil!")), "PUT to a download URL");
    const res = await fetchBlob(api, component!.url);
    expect(res.bytes.toString()).toBe("alpha");
  });

  test("expired upload and download URLs are 403 forbidden", async () => {
    const ref = await startRun(api, "sign-expiry");
    const files = [text("a", "alpha"), text("b", "bravo")];
    const old = await createFiles(api, ref, files);
    const ready = await readyAsset(api, ref, files);
    const [component] = (await download(api, ready.id)).components;
    const [piece] = pieces(old.upload, files);

    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 2 * 3600_000);
      expectForbidden(await put(api, piece!.url, Buffer.from("alpha"), piece!.headers), "expired upload URL");
      expectForbidden(await fetchBlob(api, component!.url), "expired download URL");
    } finally {
      vi.useRealTimers();
    }

    expect((await getAsset(api, old.asset.id)).uploaded_size).toBe(0);
    // A fresh plan works again.
    const replan = await assetCall(api, old.asset.id, "uploads");
    await upload(api, replan.body.upload, files);
    expect((await finalize(api, old.asset.id)).state).toBe("ready");
  });

  test("malformed or escaping blob paths are refused without reading any file", async () => {
    const ref = await startRun(api, "sign-paths");
    const files = [text("a", "alpha")];
    const ready = await readyAsset(api, ref, files);
    const [component] = (await download(api, ready.id)).components;
    const { search, pathname } = new URL(component!.url);
    const urls = [
      "/v1/blobs/../../etc/passwd",
      "/v1/blobs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      `/v1/blobs/%2e%2e/%2e%2e/%2e%2e/etc/passwd${search}`,
      `/v1/blobs/..%2f..%2f..%2fetc%2fpasswd${search}`,
      `/v1/blobs/not-a-uuid/a${search}`,
      `${pathname}/../../../../../etc/passwd${search}`,
      `${pathname}%2f..%2f..%2f..%2f..%2fetc%2fpasswd${search}`,
      "/v1/blobs/",
      "/v1/blobs",
    ];
    for (const url of urls) {
      for (const method of ["GET", "PUT"] as const) {
        const res = await api.app.inject({
          method,
          url,
          ...(method === "PUT" && {
            payload: Buffer.from("x"),
            headers: { "content-type": "application/octet-stream" },
          }),
        });
        expect([400, 403, 404], `${method} ${url}`).toContain(res.statusCode);
        expect(res.body).not.toContain("root:");
        expect(JSON.parse(res.body).error.code).toEqual(expect.any(String));
      }
    }
    expect(local(component!.url)).toBe(`${pathname}${search}`);
  });
});

describe("downloads", () => {
  test("honour a byte range with 206 and exactly those bytes", async () => {
    const ref = await startRun(api, "range");
    const files: File[] = [{ path: "big", bytes: randomBytes(PART_SIZE + 4096) }];
    const ready = await readyAsset(api, ref, files);
    const [component] = (await download(api, ready.id)).components;
    const bytes = files[0]!.bytes;
    for (const [start, end] of [
      [0, 0],
      [PART_SIZE - 10, PART_SIZE + 19],
      [100, 1123],
      [bytes.length - 5, bytes.length - 1],
    ] as const) {
      const res = await fetchBlob(api, component!.url, { range: `bytes=${start}-${end}` });
      expect(res.status, `${start}-${end}`).toBe(206);
      expect(res.bytes.equals(bytes.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      expect(res.headers["content-range"]).toBe(`bytes ${start}-${end}/${bytes.length}`);
    }
    const whole = await fetchBlob(api, component!.url);
    expect(whole.status).toBe(200);
    expect(sha256(whole.bytes)).toBe(sha256(bytes));
  });

  test("a range past the end is 416 range_not_satisfiable with the size; a file no longer stored is 404", async () => {
    const ref = await startRun(api, "range-416");
    const files: File[] = [{ path: "w.bin", bytes: randomBytes(1000) }];
    const ready = await readyAsset(api, ref, files);
    const [component] = (await download(api, ready.id)).components;
    for (const range of ["bytes=1000-", "bytes=1000-1999", "bytes=5000-6000"]) {
      const res = await fetchBlob(api, component!.url, { range });
      expect(res.status, range).toBe(416);
      expect(res.headers["content-range"], range).toBe("bytes */1000");
      expect(JSON.parse(res.bytes.toString()).error.code, range).toBe("range_not_satisfiable");
    }
    await rm(join(api.app.config.dataDir, "blobs", ready.id, "0"));
    const gone = await fetchBlob(api, component!.url, { range: "bytes=0-9" });
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.bytes.toString()).error.code).toBe("not_found");
  });

  test("are 409 asset_not_ready for pending and aborted assets", async () => {
    const ref = await startRun(api, "dl-states");
    const pending = await createFiles(api, ref, [text("a", "a")]);
    const aborted = await createFiles(api, ref, [text("a", "a")]);
    expect((await assetCall(api, aborted.asset.id, "abort")).status).toBe(200);
    for (const id of [pending.asset.id, aborted.asset.id]) {
      const res = await api.request({ method: "GET", url: `/v1/assets/${id}/download` });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("asset_not_ready");
    }
  });
});
