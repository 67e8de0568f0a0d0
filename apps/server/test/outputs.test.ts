import { type Api, describe, expect, test } from "./support/app.js";
import {
  assetCall,
  createFiles,
  createInline,
  ISO_MS,
  type RunRef,
  readyAsset,
  runPath,
  sleep,
  startRun,
  text,
  upload,
} from "./support/assets.js";

const ids = (res: { body: any }) => res.body.items.map((item: any) => item.id);
const get = (api: Api, url: string) => api.request({ method: "GET", url });
const variationPath = (exp: string, variation: string) => `/v1/experiments/${exp}/variations/${variation}`;

/** One pending asset (never uploaded). */
async function pending(api: Api, ref: RunRef, asset_type = "checkpoint") {
  return (await createFiles(api, ref, [text("f", "data")], { asset_type })).asset;
}

async function aborted(api: Api, ref: RunRef, asset_type = "checkpoint") {
  const asset = await pending(api, ref, asset_type);
  const res = await assetCall(api, asset.id, "abort");
  expect(res.status).toBe(200);
  return res.body.asset;
}

describe("outputs", () => {
  test("of a run list its assets newest first, filtered by asset_type and state", async ({ api }) => {
    const ref = await startRun(api, "out-run");
    const other = await startRun(api, "out-run", "v", 1);
    const a = await createInline(api, ref, "metrics", { step: 1 });
    const b = await pending(api, ref);
    const c = await aborted(api, ref);
    const d = await createInline(api, ref, "checkpoint", { fake: true });
    await createInline(api, other, "metrics", { elsewhere: true });

    const all = await get(api, `${runPath(ref)}/outputs`);
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    expect(ids(all)).toEqual([d.id, c.id, b.id, a.id]);
    expect(all.body.items[0]).toEqual(d);
    expect(all.body.items[1]).toMatchObject({ state: "aborted", inline: false, components: [expect.any(Object)] });

    expect(ids(await get(api, `${runPath(ref)}/outputs?asset_type=checkpoint`))).toEqual([d.id, c.id, b.id]);
    expect(ids(await get(api, `${runPath(ref)}/outputs?state=ready`))).toEqual([d.id, a.id]);
    expect(ids(await get(api, `${runPath(ref)}/outputs?state=pending`))).toEqual([b.id]);
    expect(ids(await get(api, `${runPath(ref)}/outputs?asset_type=checkpoint&state=aborted`))).toEqual([c.id]);
    expect(ids(await get(api, `${runPath(ref)}/outputs?asset_type=nothing`))).toEqual([]);
  });

  test("of a variation span its runs, with a run filter", async ({ api }) => {
    const r0 = await startRun(api, "out-var", "v", 0);
    const r1 = await startRun(api, "out-var", "v", 1);
    const elsewhere = await startRun(api, "out-var", "w", 0);
    const a = await createInline(api, r0, "metrics", 1);
    const b = await createInline(api, r1, "metrics", 2);
    const c = await pending(api, r0);
    await createInline(api, elsewhere, "metrics", 3);

    const url = `${variationPath("out-var", "v")}/outputs`;
    expect(ids(await get(api, url))).toEqual([c.id, b.id, a.id]);
    expect(ids(await get(api, `${url}?run=0`))).toEqual([c.id, a.id]);
    expect(ids(await get(api, `${url}?run=1&asset_type=metrics`))).toEqual([b.id]);
    expect(ids(await get(api, `${url}?state=ready`))).toEqual([b.id, a.id]);
    expect(ids(await get(api, `${url}?run=7`))).toEqual([]);
  });

  test("of an experiment span its variations, with variation and run filters", async ({ api }) => {
    const v0 = await startRun(api, "out-exp", "v", 0);
    const w0 = await startRun(api, "out-exp", "w", 0);
    const w1 = await startRun(api, "out-exp", "w", 1);
    const other = await startRun(api, "out-exp-other", "v", 0);
    const a = await createInline(api, v0, "metrics", 1);
    const b = await createInline(api, w0, "environment", { python: "3.12" });
    const c = await pending(api, w1);
    await createInline(api, other, "metrics", 1);

    const url = "/v1/experiments/out-exp/outputs";
    expect(ids(await get(api, url))).toEqual([c.id, b.id, a.id]);
    expect(ids(await get(api, `${url}?variation=w`))).toEqual([c.id, b.id]);
    expect(ids(await get(api, `${url}?variation=w&run=0`))).toEqual([b.id]);
    expect(ids(await get(api, `${url}?run=0`))).toEqual([b.id, a.id]);
    expect(ids(await get(api, `${url}?asset_type=environment`))).toEqual([b.id]);
    expect(ids(await get(api, `${url}?state=pending`))).toEqual([c.id]);
  });

  test("page with limit and cursor, each asset once, newest first", async ({ api }) => {
    const ref = await startRun(api, "out-page");
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await createInline(api, ref, "metrics", { i })).id);
    for (const url of [
      `${runPath(ref)}/outputs`,
      `${variationPath("out-page", "v")}/outputs`,
      "/v1/experiments/out-page/outputs",
    ]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query = new URLSearchParams({ limit: "3", ...(cursor && { cursor }) });
        const res: { status: number; body: any } = await get(api, `${url}?${query}`);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...ids(res));
        cursor = res.body.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages, url).toBe(3);
      expect(seen, url).toEqual([...created].reverse());
    }
  });

  test("of a missing parent are 404 naming it; bad filters are 400", async ({ api }) => {
    await startRun(api, "out-404");
    const cases = [
      ["/v1/experiments/out-ghost/variations/v/runs/0/outputs", "experiment_not_found"],
      ["/v1/experiments/out-404/variations/ghost/runs/0/outputs", "variation_not_found"],
      ["/v1/experiments/out-404/variations/v/runs/9/outputs", "run_not_found"],
      ["/v1/experiments/out-ghost/variations/v/outputs", "experiment_not_found"],
      ["/v1/experiments/out-404/variations/ghost/outputs", "variation_not_found"],
      ["/v1/experiments/out-ghost/outputs", "experiment_not_found"],
      ["/v1/experiments/out-404/variations/ghost/outputs/latest?asset_type=x", "variation_not_found"],
    ] as const;
    for (const [url, code] of cases) {
      const res = await get(api, url);
      expect(res.status, url).toBe(404);
      expect(res.body.error.code, url).toBe(code);
    }
    for (const query of ["state=done", "asset_type=Bad", "limit=1001", "limit=0", "run=-1", "colour=red"]) {
      const res = await get(api, `/v1/experiments/out-404/outputs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });
});

describe("latest output", () => {
  test("is the newest ready asset of the type across runs; pending and aborted ones are ignored", async ({ api }) => {
    const r0 = await startRun(api, "latest", "v", 0);
    const r1 = await startRun(api, "latest", "v", 1);
    const elsewhere = await startRun(api, "latest", "w", 0);
    const url = `${variationPath("latest", "v")}/outputs/latest`;
    expect(await get(api, `${url}?asset_type=checkpoint`)).toMatchObject({ status: 200, body: { asset: null } });

    const old = await readyAsset(api, r0, [text("w", "old")]);
    const laterCreated = await createFiles(api, r0, [text("w", "mid")]);
    const newest = await readyAsset(api, r1, [text("w", "new")]);
    await createInline(api, r0, "metrics", { not: "a checkpoint" });
    await pending(api, r1);
    await aborted(api, r1);
    await readyAsset(api, elsewhere, [text("w", "other variation")]);

    const answer = await get(api, `${url}?asset_type=checkpoint`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ asset: newest });
    expect((await get(api, `${url}?asset_type=checkpoint&run=0`)).body.asset.id).toBe(old.id);
    expect((await get(api, `${url}?asset_type=checkpoint&run=1`)).body.asset.id).toBe(newest.id);
    expect((await get(api, `${url}?asset_type=checkpoint&run=5`)).body).toEqual({ asset: null });
    expect((await get(api, `${url}?asset_type=metrics`)).body.asset.content).toBeUndefined();

    // Newest by created_at: finishing an older upload late does not make it the latest.
    const uploaded = await api.request({ method: "POST", url: `/v1/assets/${laterCreated.asset.id}/uploads` });
    await upload(api, uploaded.body.upload, [text("w", "mid")]);
    expect((await assetCall(api, laterCreated.asset.id, "finalize")).status).toBe(200);
    expect((await get(api, `${url}?asset_type=checkpoint`)).body.asset.id).toBe(newest.id);
    expect((await get(api, `${url}?asset_type=checkpoint&run=0`)).body.asset.id).toBe(laterCreated.asset.id);
  });

  test("needs asset_type", async ({ api }) => {
    await startRun(api, "latest-bad");
    const url = `${variationPath("latest-bad", "v")}/outputs/latest`;
    for (const query of ["", "?run=0", "?asset_type=", "?asset_type=NOPE"]) {
      const res = await get(api, `${url}${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });
});

describe("inputs", () => {
  test("link a ready asset of another experiment: 201, then 200 with the same linked_at", async ({ api }) => {
    const source = await startRun(api, "in-source", "train", 0);
    await startRun(api, "in-target", "eval", 0);
    const ckpt = await readyAsset(api, source, [text("w", "weights")]);
    const url = `${variationPath("in-target", "eval")}/inputs/${ckpt.id}`;

    const first = await api.request({ method: "PUT", url });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ ...ckpt, linked_at: expect.stringMatching(ISO_MS) });
    await sleep(5);
    const again = await api.request({ method: "PUT", url });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const list = await get(api, `${variationPath("in-target", "eval")}/inputs`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [first.body], next_cursor: null });
    // The source variation has no inputs of its own.
    expect((await get(api, `${variationPath("in-source", "train")}/inputs`)).body.items).toEqual([]);
  });

  test("list last linked first, page, and unlink with 204 (also when not linked)", async ({ api }) => {
    const ref = await startRun(api, "in-list", "v", 0);
    await startRun(api, "in-list", "consumer", 0);
    const base = `${variationPath("in-list", "consumer")}/inputs`;
    const assets = [];
    for (let i = 0; i < 4; i++) assets.push(await createInline(api, ref, "dataset", { i }));
    // Linked in another order than created.
    const order = [assets[2]!, assets[0]!, assets[3]!, assets[1]!];
    for (const asset of order) {
      expect((await api.request({ method: "PUT", url: `${base}/${asset.id}` })).status).toBe(201);
      await sleep(3);
    }
    const all = await get(api, base);
    expect(ids(all)).toEqual(order.map((a) => a.id).reverse());
    const page1 = await get(api, `${base}?limit=3`);
    expect(page1.body.items).toHaveLength(3);
    const page2 = await get(api, `${base}?limit=3&cursor=${encodeURIComponent(page1.body.next_cursor)}`);
    expect([...ids(page1), ...ids(page2)]).toEqual(ids(all));
    expect(page2.body.next_cursor).toBeNull();

    const unlinked = await api.request({ method: "DELETE", url: `${base}/${assets[0]!.id}` });
    expect(unlinked.status).toBe(204);
    expect(unlinked.body).toBeUndefined();
    expect((await api.request({ method: "DELETE", url: `${base}/${assets[0]!.id}` })).status).toBe(204);
    expect(ids(await get(api, base))).not.toContain(assets[0]!.id);
    expect(ids(await get(api, base))).toHaveLength(3);
    // Linking again after an unlink is a new link.
    const relinked = await api.request({ method: "PUT", url: `${base}/${assets[0]!.id}` });
    expect(relinked.status).toBe(201);
    expect(ids(await get(api, base))[0]).toBe(assets[0]!.id);
  });

  test("refuse pending and aborted assets with 409 asset_not_ready", async ({ api }) => {
    const ref = await startRun(api, "in-states");
    for (const asset of [await pending(api, ref), await aborted(api, ref)]) {
      const res = await api.request({ method: "PUT", url: `${variationPath("in-states", "v")}/inputs/${asset.id}` });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("asset_not_ready");
    }
    expect((await get(api, `${variationPath("in-states", "v")}/inputs`)).body.items).toEqual([]);
  });

  test("of a missing asset or variation are 404", async ({ api }) => {
    const ref = await startRun(api, "in-404");
    const asset = await createInline(api, ref, "x", 1);
    const ghost = "0190f2a4-1b2c-7d3e-8f40-123456789abc";
    const cases = [
      ["PUT", `${variationPath("in-404", "v")}/inputs/${ghost}`, "asset_not_found"],
      ["PUT", `${variationPath("in-404", "ghost")}/inputs/${asset.id}`, "variation_not_found"],
      ["PUT", `${variationPath("in-ghost", "v")}/inputs/${asset.id}`, "experiment_not_found"],
      ["GET", `${variationPath("in-404", "ghost")}/inputs`, "variation_not_found"],
    ] as const;
    for (const [method, url, code] of cases) {
      const res = await api.request({ method, url });
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.error.code, `${method} ${url}`).toBe(code);
    }
    const bad = await api.request({ method: "PUT", url: `${variationPath("in-404", "v")}/inputs/not-a-uuid` });
    expect(bad.status).toBe(400);
  });
});
