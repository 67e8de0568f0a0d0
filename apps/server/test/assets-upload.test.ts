import { sql } from "drizzle-orm";
import { afterAll, beforeAll } from "vitest";
import { type Api, describe, expect, startApp, storage, test } from "./support/app.js";
import {
  assetCall,
  createAsset,
  createFiles,
  createInline,
  download,
  downloadAll,
  endRun,
  fetchBlob,
  finalize,
  getAsset,
  ISO_MS,
  manifest,
  pieces,
  put,
  readyAsset,
  runOutputs,
  sha256,
  sleep,
  startRun,
  text,
  upload,
  writeToken,
} from "./support/assets.js";

const threeFiles = () => [text("a.txt", "alpha"), text("dir/b.bin", "bravo-bravo"), text("c", "charlie!")];

describe("uploading single-PUT components", () => {
  test("each PUT is recorded at once; finalize makes the asset ready and its bytes downloadable", async ({ api }) => {
    const ref = await startRun(api, "up-basic");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    const all = pieces(plan, files);
    expect(all).toHaveLength(3);

    let expected = 0;
    for (const piece of all) {
      const res = await put(api, piece.url, files.find((f) => f.path === piece.path)!.bytes, piece.headers);
      expect(res.status).toBe(200);
      expect(res.headers.etag).toEqual(expect.any(String));
      expected += piece.size;
      // The local driver sees each piece arrive; object storage is asked at finalize.
      if (storage === "local") expect((await getAsset(api, asset.id)).uploaded_size).toBe(expected);
    }
    const ready = await finalize(api, asset.id);
    expect(ready).toMatchObject({ id: asset.id, state: "ready", size: 24, uploaded_size: 24 });
    expect(ready.finalized_at).toMatch(ISO_MS);
    expect(await getAsset(api, asset.id)).toEqual(ready);

    const got = await downloadAll(api, asset.id);
    expect([...got.keys()].sort()).toEqual(["a.txt", "c", "dir/b.bin"]);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes)).toBe(true);
  });

  test("/uploads re-plans only what has not arrived, and nothing once ready", async ({ api }) => {
    const ref = await startRun(api, "up-replan");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    await upload(api, plan, files, (piece) => piece.path === "a.txt");

    const again = await assetCall(api, asset.id, "uploads");
    expect(again.status).toBe(200);
    expect(again.body.upload.expires_at).toMatch(ISO_MS);
    expect(again.body.upload.components.map((c: any) => c.path).sort()).toEqual(["c", "dir/b.bin"]);

    await upload(api, again.body.upload, files);
    await finalize(api, asset.id);
    const done = await assetCall(api, asset.id, "uploads");
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      upload: { expires_at: expect.stringMatching(ISO_MS), components: [], truncated: false },
    });
  });

  test("/parts with the answered ETags is accepted, idempotently", async ({ api }) => {
    const ref = await startRun(api, "up-parts");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    const reported = await upload(api, plan, files);
    const first = await assetCall(api, asset.id, "parts", { parts: reported });
    expect(first.status).toBe(200);
    expect(first.body.asset).toMatchObject({ id: asset.id, state: "pending", uploaded_size: 24 });
    const again = await assetCall(api, asset.id, "parts", { parts: reported });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    await finalize(api, asset.id);
    // On a ready asset it is a no-op.
    const late = await assetCall(api, asset.id, "parts", { parts: reported });
    expect(late.status).toBe(200);
    expect(late.body.asset.state).toBe("ready");
  });

  test("finalize with files missing is 409 asset_incomplete naming exactly them; the asset stays pending", async ({
    api,
  }) => {
    const ref = await startRun(api, "up-missing");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    await upload(api, plan, files, (piece) => piece.path === "dir/b.bin");
    const res = await assetCall(api, asset.id, "finalize");
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("asset_incomplete");
    const missing = [...res.body.error.details.missing].sort((x: any, y: any) => x.path.localeCompare(y.path));
    expect(missing).toEqual([{ path: "a.txt" }, { path: "c" }]);
    expect((await getAsset(api, asset.id)).state).toBe("pending");
    expect((await api.request({ method: "GET", url: `/v1/assets/${asset.id}/download` })).body.error.code).toBe(
      "asset_not_ready",
    );
  });

  test("finalize of a ready asset answers it unchanged; 20 concurrent finalizes answer the same", async ({ api }) => {
    const ref = await startRun(api, "up-finalize-race");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    await upload(api, plan, files);
    const answers = await Promise.all(Array.from({ length: 20 }, () => assetCall(api, asset.id, "finalize")));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual(answers[0]!.body);
    }
    expect(answers[0]!.body.asset.state).toBe("ready");
    await sleep(5);
    const again = await assetCall(api, asset.id, "finalize");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(answers[0]!.body);
  });

  test("download URLs answer Content-Disposition: attachment with the file's name, safely encoded", async ({ api }) => {
    const ref = await startRun(api, "up-disposition");
    const files = [text('model/wé "v2".json', "{}"), text("plain.bin", "x")];
    const ready = await readyAsset(api, ref, files);
    const expected: Record<string, string> = {
      'model/wé "v2".json': `attachment; filename="w_ _v2_.json"; filename*=UTF-8''w%C3%A9%20%22v2%22.json`,
      "plain.bin": `attachment; filename="plain.bin"; filename*=UTF-8''plain.bin`,
    };
    for (const component of (await download(api, ready.id)).components) {
      const res = await fetchBlob(api, component.url);
      expect(res.status, component.path).toBe(200);
      expect(res.headers["content-disposition"], component.path).toBe(expected[component.path]);
    }
  });

  test("empty files need no PUT and download as empty", async ({ api }) => {
    const ref = await startRun(api, "up-empty");
    const files = [text("empty", ""), text("nested/also-empty", "")];
    const { asset, upload: plan } = await createFiles(api, ref, files);
    expect(plan.components).toEqual([]);
    const ready = await finalize(api, asset.id);
    expect(ready).toMatchObject({ state: "ready", size: 0, uploaded_size: 0 });
    const dl = await download(api, asset.id);
    expect(dl.components.map((c) => c.path).sort()).toEqual(["empty", "nested/also-empty"]);
    for (const component of dl.components) {
      expect(component).toMatchObject({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      const res = await fetchBlob(api, component.url);
      expect(res.status).toBe(200);
      expect(res.bytes.length).toBe(0);
    }
  });
});

describe("abort", () => {
  test("of a pending asset aborts it; a repeat answers the same; it can then not be used", async ({ api }) => {
    const ref = await startRun(api, "abort-pending");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    const reported = await upload(api, plan, files, (piece) => piece.path === "c");
    const first = await assetCall(api, asset.id, "abort");
    expect(first.status).toBe(200);
    expect(first.body.asset).toMatchObject({ id: asset.id, state: "aborted", finalized_at: null });
    const again = await assetCall(api, asset.id, "abort");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await getAsset(api, asset.id)).toEqual(first.body.asset);

    for (const [action, payload] of [["finalize"], ["uploads"], ["parts", { parts: reported }]] as const) {
      const res = await assetCall(api, asset.id, action, payload);
      expect(res.status, action).toBe(409);
      expect(res.body.error.code, action).toBe("asset_aborted");
    }
    const dl = await api.request({ method: "GET", url: `/v1/assets/${asset.id}/download` });
    expect(dl.status).toBe(409);
    expect(dl.body.error.code).toBe("asset_not_ready");
    // The old upload URLs no longer take data on the local driver. A presigned S3 PUT stays valid
    // until it expires, but what it sends never becomes part of the aborted asset.
    const late = pieces(plan, files).find((piece) => piece.path === "a.txt")!;
    const res = await put(api, late.url, Buffer.from("alpha"), late.headers);
    if (storage === "local") {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect((await getAsset(api, asset.id)).state).toBe("aborted");
    expect((await assetCall(api, asset.id, "finalize")).body.error.code).toBe("asset_aborted");
  });

  test("of a ready asset is 409 asset_state_conflict, inline or not", async ({ api }) => {
    const ref = await startRun(api, "abort-ready");
    const files = [text("x", "x")];
    const ready = await readyAsset(api, ref, files);
    const inline = await createInline(api, ref, "cfg", { a: 1 });
    for (const asset of [ready, inline]) {
      const res = await assetCall(api, asset.id, "abort");
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("asset_state_conflict");
      expect((await getAsset(api, asset.id)).state).toBe("ready");
    }
  });
});

describe("after the run ended", () => {
  test("an upload can be resumed and finalized, but no new asset created", async ({ api }) => {
    const ref = await startRun(api, "ended-resume");
    const files = threeFiles();
    const { asset, upload: plan } = await createFiles(api, ref, files);
    await upload(api, plan, files, (piece) => piece.path === "a.txt");
    await endRun(api, ref, "succeed");

    const replan = await assetCall(api, asset.id, "uploads");
    expect(replan.status).toBe(200);
    const reported = await upload(api, replan.body.upload, files);
    expect((await assetCall(api, asset.id, "parts", { parts: reported })).status).toBe(200);
    const ready = await finalize(api, asset.id);
    expect(ready.state).toBe("ready");
    const got = await downloadAll(api, asset.id);
    for (const file of files) expect(got.get(file.path)?.equals(file.bytes)).toBe(true);

    const created = await api.request({
      method: "POST",
      url: `/v1/experiments/ended-resume/variations/v/runs/0/assets`,
      payload: { asset_type: "late", content: 1 },
    });
    expect(created.status).toBe(409);
    expect(created.body.error.code).toBe("run_finished");
  });

  test("a pending asset of a failed run can still be aborted", async ({ api }) => {
    const ref = await startRun(api, "ended-abort");
    const { asset } = await createFiles(api, ref, threeFiles());
    await endRun(api, ref, "fail");
    const res = await assetCall(api, asset.id, "abort");
    expect(res.status).toBe(200);
    expect(res.body.asset.state).toBe("aborted");
  });
});

describe("Idempotency-Key", () => {
  test("a repeat with the same key and body answers the same asset, planning only what is missing", async ({ api }) => {
    const ref = await startRun(api, "idem-repeat");
    const files = threeFiles();
    const payload = { asset_type: "checkpoint", components: manifest(files) };
    const key = { "idempotency-key": "create-ckpt-1" };
    const first = await createAsset(api, ref, payload, key);
    expect(first.status).toBe(201);
    await upload(api, first.body.upload, files, (piece) => piece.path === "a.txt");
    const again = await createAsset(api, ref, payload, key);
    expect(again.status).toBe(201);
    expect(again.body.asset.id).toBe(first.body.asset.id);
    expect(again.body.asset.created_at).toBe(first.body.asset.created_at);
    expect(again.body.upload.components.map((c: any) => c.path).sort()).toEqual(["c", "dir/b.bin"]);
    await upload(api, again.body.upload, files);
    expect((await finalize(api, first.body.asset.id)).state).toBe("ready");

    const inline = await createAsset(api, ref, { asset_type: "x", content: 1 }, { "idempotency-key": "inline-1" });
    const inlineAgain = await createAsset(api, ref, { asset_type: "x", content: 1 }, { "idempotency-key": "inline-1" });
    expect(inlineAgain.status).toBe(201);
    expect(inlineAgain.body).toEqual(inline.body);
    const list = await runOutputs(api, ref);
    expect(list.body.items.map((a: any) => a.id).sort()).toEqual([first.body.asset.id, inline.body.asset.id].sort());
  });

  test("a retry answers the first answer even after the run ended; a new key then is 409 run_finished", async ({
    api,
  }) => {
    const ref = await startRun(api, "idem-ended");
    const payload = { asset_type: "checkpoint", components: manifest(threeFiles()) };
    const first = await createAsset(api, ref, payload, { "idempotency-key": "before-the-end" });
    await endRun(api, ref);
    const again = await createAsset(api, ref, payload, { "idempotency-key": "before-the-end" });
    expect(again.status).toBe(201);
    expect(again.body.asset.id).toBe(first.body.asset.id);
    const fresh = await createAsset(api, ref, payload, { "idempotency-key": "after-the-end" });
    expect(fresh.status).toBe(409);
    expect(fresh.body.error.code).toBe("run_finished");
  });

  test("10 concurrent creates with one key make one asset", async ({ api }) => {
    const ref = await startRun(api, "idem-race");
    const payload = { asset_type: "checkpoint", components: manifest(threeFiles()) };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => createAsset(api, ref, payload, { "idempotency-key": "race" })),
    );
    for (const res of answers) {
      expect(res.status).toBe(201);
      expect(res.body.asset).toEqual(answers[0]!.body.asset);
    }
    expect((await runOutputs(api, ref)).body.items).toHaveLength(1);
  });

  test("the same key with a different body is 409 already_exists", async ({ api }) => {
    const ref = await startRun(api, "idem-conflict");
    const key = { "idempotency-key": "k" };
    expect((await createAsset(api, ref, { asset_type: "x", content: 1 }, key)).status).toBe(201);
    const other = await createAsset(api, ref, { asset_type: "x", content: 2 }, key);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("already_exists");
    expect((await runOutputs(api, ref)).body.items).toHaveLength(1);
  });

  test("keys are per token: another token with the same key creates a new asset", async ({ api }) => {
    const ref = await startRun(api, "idem-token");
    const payload = { asset_type: "x", content: { same: true } };
    const key = { "idempotency-key": "shared-key" };
    const token = await writeToken(api, "idem-writer");
    const admin = await createAsset(api, ref, payload, key);
    const writer = await createAsset(api, ref, payload, { ...key, authorization: `Bearer ${token}` });
    expect(admin.status).toBe(201);
    expect(writer.status).toBe(201);
    expect(writer.body.asset.id).not.toBe(admin.body.asset.id);
    expect((await runOutputs(api, ref)).body.items).toHaveLength(2);
  });

  test("without a key, two identical creates make two assets", async ({ api }) => {
    const ref = await startRun(api, "idem-none");
    const a = await createInline(api, ref, "x", 1);
    const b = await createInline(api, ref, "x", 1);
    expect(a.id).not.toBe(b.id);
    expect(b.id > a.id).toBe(true);
  });
});

describe("the pending-asset sweeper", () => {
  let api: Api;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, close } = await startApp({ METHODIC_PENDING_ASSET_TTL_S: "60", METHODIC_REAPER_INTERVAL_S: "1" }));
  });
  afterAll(async () => close());

  async function stateWithin(id: string, state: string, ms: number) {
    const deadline = Date.now() + ms;
    let seen = (await getAsset(api, id)).state;
    while (seen !== state && Date.now() < deadline) {
      await sleep(100);
      seen = (await getAsset(api, id)).state;
    }
    return seen;
  }

  test("aborts abandoned pending assets, and never ready or recent ones", async () => {
    const ref = await startRun(api, "sweep");
    const files = threeFiles();
    const abandoned = await createFiles(api, ref, files);
    await upload(api, abandoned.upload, files, (piece) => piece.path === "c");
    const recent = await createFiles(api, ref, files);
    const ready = await readyAsset(api, ref, files);
    const inline = await createInline(api, ref, "cfg", { a: 1 });
    for (const id of [abandoned.asset.id, ready.id, inline.id]) {
      await api.app.db.execute(sql`update assets set created_at = now() - interval '2 hours' where id = ${id}`);
    }

    expect(await stateWithin(abandoned.asset.id, "aborted", 5_000)).toBe("aborted");
    await sleep(1_500);
    expect((await getAsset(api, recent.asset.id)).state).toBe("pending");
    expect((await getAsset(api, ready.id)).state).toBe("ready");
    expect((await getAsset(api, inline.id)).state).toBe("ready");
    const res = await assetCall(api, abandoned.asset.id, "finalize");
    expect(res.body.error.code).toBe("asset_aborted");
    // Its upload URLs take no more data.
    const late = pieces(abandoned.upload, files).find((piece) => piece.path === "a.txt")!;
    const refused = await put(api, late.url, Buffer.from("alpha"), late.headers);
    if (storage === "local") {
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
    }
    expect((await getAsset(api, abandoned.asset.id)).state).toBe("aborted");
    // A ready asset's bytes survive the sweep.
    const got = await downloadAll(api, ready.id);
    expect(got.get("a.txt")?.toString()).toBe("alpha");
  });
});
