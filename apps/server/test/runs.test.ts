import { type Api, describe, expect, test } from "./support/app.js";

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function experiment(api: Api, id: string, extra: Record<string, unknown> = {}) {
  const res = await api.request({ method: "POST", url: "/v1/experiments", payload: { id, ...extra } });
  expect(res.status).toBe(201);
}

const runUrl = (exp: string, variation: string, run: number | string) =>
  `/v1/experiments/${exp}/variations/${variation}/runs/${run}`;

function call(api: Api, exp: string, variation: string, run: number, action: string, payload?: object) {
  return api.request({ method: "POST", url: `${runUrl(exp, variation, run)}/${action}`, payload });
}

describe("start", () => {
  test("creates the variation and the run, running", async ({ api }) => {
    await experiment(api, "start-new");
    const res = await call(api, "start-new", "v1", 0, "start");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      experiment_id: "start-new",
      variation: "v1",
      run: 0,
      state: "running",
      created_at: expect.stringMatching(ISO_MS),
      started_at: res.body.created_at,
      finished_at: null,
      last_heartbeat_at: res.body.created_at,
      wandb: null,
      summary: null,
      error: null,
    });
    const read = await api.request({ method: "GET", url: runUrl("start-new", "v1", 0) });
    expect(read.body).toEqual(res.body);
    const variation = await api.request({ method: "GET", url: "/v1/experiments/start-new/variations/v1" });
    expect(variation.body.run_counts).toEqual({ running: 1, succeeded: 0, failed: 0, lost: 0 });
  });

  test("of an unknown experiment is 404 experiment_not_found and creates nothing", async ({ api }) => {
    const res = await call(api, "start-ghost", "v", 0, "start");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("experiment_not_found");
  });

  test("of a running run is idempotent and counts as a sign of life", async ({ api }) => {
    await experiment(api, "start-again");
    const first = await call(api, "start-again", "v", 3, "start");
    await new Promise((r) => setTimeout(r, 5));
    const again = await call(api, "start-again", "v", 3, "start");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      state: "running",
      created_at: first.body.created_at,
      started_at: first.body.started_at,
    });
    expect(Date.parse(again.body.last_heartbeat_at)).toBeGreaterThan(Date.parse(first.body.last_heartbeat_at));
  });

  test("20 concurrent starts of one new run create exactly one run", async ({ api }) => {
    await experiment(api, "start-race");
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(api, "start-race", "v", 7, "start")));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ run: 7, state: "running", created_at: answers[0]!.body.created_at });
    }
    const list = await api.request({ method: "GET", url: "/v1/experiments/start-race/runs" });
    expect(list.body.items).toHaveLength(1);
  });

  test.for([
    ["a negative index", "-1"],
    ["a leading zero", "01"],
    ["an exponent", "1e3"],
    ["an index past 2^31-1", "2147483648"],
    ["a word", "first"],
  ] as const)("with %s in the path is 400", async ([, run], { api }) => {
    await experiment(api, `start-bad-${run.replace(/\W/g, "")}`);
    const res = await api.request({
      method: "POST",
      url: `${runUrl(`start-bad-${run.replace(/\W/g, "")}`, "v", run)}/start`,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields[0]).toMatchObject({ in: "params", path: "run" });
  });

  test("accepts the largest run index", async ({ api }) => {
    await experiment(api, "start-max");
    const res = await call(api, "start-max", "v", 2_147_483_647, "start");
    expect(res.status).toBe(200);
    expect(res.body.run).toBe(2_147_483_647);
  });
});

describe("the W&B pointer", () => {
  test("is stored with the default dashboard URL", async ({ api }) => {
    await experiment(api, "wb-default");
    const res = await call(api, "wb-default", "v", 0, "start", {
      wandb_run_id: "abc123",
      wandb_entity: "team",
      wandb_project: "ripple",
    });
    expect(res.status).toBe(200);
    expect(res.body.wandb).toEqual({
      run_id: "abc123",
      entity: "team",
      project: "ripple",
      dashboard_url: "https://wandb.ai/team/ripple/runs/abc123",
    });
  });

  test("takes the experiment's project when none is given, and a given dashboard URL", async ({ api }) => {
    await experiment(api, "wb-fallback", { wandb_project: "exp-project" });
    const res = await call(api, "wb-fallback", "v", 0, "start", {
      wandb_run_id: "r1",
      wandb_entity: "team",
      wandb_dashboard_url: "http://wandb.internal/team/exp-project/runs/r1",
    });
    expect(res.body.wandb).toEqual({
      run_id: "r1",
      entity: "team",
      project: "exp-project",
      dashboard_url: "http://wandb.internal/team/exp-project/runs/r1",
    });
  });

  test("without any project is 400 wandb_project_required", async ({ api }) => {
    await experiment(api, "wb-noproject");
    const res = await call(api, "wb-noproject", "v", 0, "start", { wandb_run_id: "r1", wandb_entity: "team" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("wandb_project_required");
    const runs = await api.request({ method: "GET", url: "/v1/experiments/wb-noproject/runs" });
    expect(runs.body.items).toEqual([]);
  });

  test.for([
    ["a run id without an entity", { wandb_run_id: "r1", wandb_project: "p" }, "wandb_entity"],
    ["an entity without a run id", { wandb_entity: "team", wandb_project: "p" }, "wandb_run_id"],
    ["only a dashboard URL", { wandb_dashboard_url: "https://wandb.ai/x" }, "wandb_run_id"],
    [
      "a dashboard URL that is not http(s)",
      { wandb_run_id: "r", wandb_entity: "e", wandb_project: "p", wandb_dashboard_url: "javascript:alert(1)" },
      "wandb_dashboard_url",
    ],
    ["an entity with a slash", { wandb_run_id: "r", wandb_entity: "a/b", wandb_project: "p" }, "wandb_entity"],
    ["an unknown field", { wandb_run: "r" }, "wandb_run"],
  ] as const)("with %s is 400 invalid_request", async ([, payload, field], { api }) => {
    const exp = `wb-bad-${field.replace(/_/g, "-")}-${Object.keys(payload).length}`;
    await experiment(api, exp);
    const res = await call(api, exp, "v", 0, "start", payload);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields).toContainEqual(expect.objectContaining({ in: "body", path: field }));
  });

  test("can be added to a run that had none; a start without one never conflicts", async ({ api }) => {
    await experiment(api, "wb-add", { wandb_project: "p" });
    await call(api, "wb-add", "v", 0, "start");
    const linked = await call(api, "wb-add", "v", 0, "start", { wandb_run_id: "r1", wandb_entity: "team" });
    expect(linked.status).toBe(200);
    expect(linked.body.wandb).toMatchObject({ run_id: "r1", project: "p" });
    const bare = await call(api, "wb-add", "v", 0, "start");
    expect(bare.status).toBe(200);
    expect(bare.body.wandb).toEqual(linked.body.wandb);
    const same = await call(api, "wb-add", "v", 0, "start", { wandb_run_id: "r1", wandb_entity: "team" });
    expect(same.status).toBe(200);
  });

  test("a different pointer on a linked run is 409 run_state_conflict", async ({ api }) => {
    await experiment(api, "wb-conflict", { wandb_project: "p" });
    await call(api, "wb-conflict", "v", 0, "start", { wandb_run_id: "r1", wandb_entity: "team" });
    const res = await call(api, "wb-conflict", "v", 0, "start", { wandb_run_id: "r2", wandb_entity: "team" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("run_state_conflict");
    const read = await api.request({ method: "GET", url: runUrl("wb-conflict", "v", 0) });
    expect(read.body.wandb.run_id).toBe("r1");
  });
});

describe("heartbeat", () => {
  test("keeps a running run alive", async ({ api }) => {
    await experiment(api, "hb");
    const started = await call(api, "hb", "v", 0, "start");
    await new Promise((r) => setTimeout(r, 5));
    const res = await call(api, "hb", "v", 0, "heartbeat");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ state: "running", last_heartbeat_at: expect.stringMatching(ISO_MS) });
    expect(Date.parse(res.body.last_heartbeat_at)).toBeGreaterThan(Date.parse(started.body.last_heartbeat_at));
  });

  test("of a missing run, variation or experiment is the matching 404", async ({ api }) => {
    await experiment(api, "hb-404");
    await call(api, "hb-404", "v", 0, "start");
    const cases = [
      [runUrl("hb-404", "v", 1), "run_not_found"],
      [runUrl("hb-404", "w", 0), "variation_not_found"],
      [runUrl("hb-404-ghost", "v", 0), "experiment_not_found"],
    ] as const;
    for (const [url, code] of cases) {
      const res = await api.request({ method: "POST", url: `${url}/heartbeat` });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe(code);
      const read = await api.request({ method: "GET", url });
      expect(read.body.error.code).toBe(code);
    }
  });
});

describe("succeed and fail", () => {
  test("succeed ends a run with its summary; a repeat answers it unchanged", async ({ api }) => {
    await experiment(api, "ok");
    await call(api, "ok", "v", 0, "start");
    const res = await call(api, "ok", "v", 0, "succeed", { summary: { loss: 0.01, steps: 5 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: "succeeded", summary: { loss: 0.01, steps: 5 }, error: null });
    expect(res.body.finished_at).toMatch(ISO_MS);
    const again = await call(api, "ok", "v", 0, "succeed", { summary: { loss: 99 } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  test("fail records the error and details; without a message it says so", async ({ api }) => {
    await experiment(api, "ko");
    await call(api, "ko", "v", 0, "start");
    const res = await call(api, "ko", "v", 0, "fail", { error: "CUDA out of memory", details: { step: 1200 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      state: "failed",
      summary: null,
      error: { message: "CUDA out of memory", details: { step: 1200 } },
    });
    const again = await call(api, "ko", "v", 0, "fail");
    expect(again.body).toEqual(res.body);

    await call(api, "ko", "v", 1, "start");
    const bare = await call(api, "ko", "v", 1, "fail");
    expect(bare.body.error).toEqual({ message: "The run failed without an error message.", details: null });
  });

  test("the opposite terminal call is 409 run_state_conflict", async ({ api }) => {
    await experiment(api, "opposite");
    await call(api, "opposite", "v", 0, "start");
    await call(api, "opposite", "v", 0, "succeed");
    const fail = await call(api, "opposite", "v", 0, "fail", { error: "late" });
    expect(fail.status).toBe(409);
    expect(fail.body.error.code).toBe("run_state_conflict");

    await call(api, "opposite", "v", 1, "start");
    await call(api, "opposite", "v", 1, "fail");
    const succeed = await call(api, "opposite", "v", 1, "succeed");
    expect(succeed.status).toBe(409);
    expect(succeed.body.error.code).toBe("run_state_conflict");
  });

  test("start and heartbeat of a finished run are 409 run_finished", async ({ api }) => {
    await experiment(api, "finished");
    await call(api, "finished", "v", 0, "start");
    await call(api, "finished", "v", 0, "succeed");
    await call(api, "finished", "v", 1, "start");
    await call(api, "finished", "v", 1, "fail");
    for (const run of [0, 1]) {
      for (const action of ["start", "heartbeat"]) {
        const res = await call(api, "finished", "v", run, action);
        expect(res.status, `${action} of run ${run}`).toBe(409);
        expect(res.body.error.code).toBe("run_finished");
      }
    }
  });

  test("of a run that never started is 404 run_not_found", async ({ api }) => {
    await experiment(api, "never");
    await api.request({ method: "PUT", url: "/v1/experiments/never/variations/v" });
    for (const action of ["succeed", "fail"]) {
      const res = await call(api, "never", "v", 0, action);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("run_not_found");
    }
  });

  test.for([
    ["succeed", { summary: [1] }],
    ["succeed", { result: "ok" }],
    ["fail", { error: 42 }],
    ["fail", { details: "text" }],
  ] as const)("%s with body %j is 400 and changes nothing", async ([action, payload], { api }) => {
    const exp = `end-bad-${action}-${Object.keys(payload)[0]}`;
    await experiment(api, exp);
    await call(api, exp, "v", 0, "start");
    const res = await call(api, exp, "v", 0, action, payload);
    expect(res.status).toBe(400);
    const read = await api.request({ method: "GET", url: runUrl(exp, "v", 0) });
    expect(read.body.state).toBe("running");
  });
});

describe("lists", () => {
  test("a variation's runs, newest first, filtered by state and paged", async ({ api }) => {
    await experiment(api, "list-var");
    for (const run of [0, 1, 2, 3]) await call(api, "list-var", "v", run, "start");
    await call(api, "list-var", "other", 0, "start");
    await call(api, "list-var", "v", 1, "succeed");

    const all = await api.request({ method: "GET", url: "/v1/experiments/list-var/variations/v/runs" });
    expect(all.body.items.map((r: any) => r.run)).toEqual([3, 2, 1, 0]);
    const succeeded = await api.request({
      method: "GET",
      url: "/v1/experiments/list-var/variations/v/runs?state=succeeded",
    });
    expect(succeeded.body.items.map((r: any) => r.run)).toEqual([1]);

    const first = await api.request({ method: "GET", url: "/v1/experiments/list-var/variations/v/runs?limit=3" });
    expect(first.body.items.map((r: any) => r.run)).toEqual([3, 2, 1]);
    const second = await api.request({
      method: "GET",
      url: `/v1/experiments/list-var/variations/v/runs?limit=3&cursor=${first.body.next_cursor}`,
    });
    expect(second.body).toEqual({ items: [expect.objectContaining({ run: 0 })], next_cursor: null });
  });

  test("every run of an experiment, with variation and state filters", async ({ api }) => {
    await experiment(api, "list-exp");
    await call(api, "list-exp", "a", 0, "start");
    await call(api, "list-exp", "b", 0, "start");
    await call(api, "list-exp", "a", 1, "start");
    await call(api, "list-exp", "a", 1, "fail");

    const all = await api.request({ method: "GET", url: "/v1/experiments/list-exp/runs" });
    expect(all.body.items.map((r: any) => `${r.variation}/${r.run}`)).toEqual(["a/1", "b/0", "a/0"]);
    const onlyA = await api.request({ method: "GET", url: "/v1/experiments/list-exp/runs?variation=a&state=running" });
    expect(onlyA.body.items.map((r: any) => `${r.variation}/${r.run}`)).toEqual(["a/0"]);
    const none = await api.request({ method: "GET", url: "/v1/experiments/list-exp/runs?variation=zzz" });
    expect(none.body).toEqual({ items: [], next_cursor: null });
  });

  test("bad filters are 400, missing parents 404", async ({ api }) => {
    await experiment(api, "list-bad");
    const badState = await api.request({ method: "GET", url: "/v1/experiments/list-bad/runs?state=done" });
    expect(badState.status).toBe(400);
    expect(badState.body.error.details.fields[0]).toMatchObject({ in: "query", path: "state" });
    const missingVar = await api.request({ method: "GET", url: "/v1/experiments/list-bad/variations/nope/runs" });
    expect(missingVar.body.error.code).toBe("variation_not_found");
    const missingExp = await api.request({ method: "GET", url: "/v1/experiments/list-bad-ghost/runs" });
    expect(missingExp.body.error.code).toBe("experiment_not_found");
    const forged = await api.request({
      method: "GET",
      url: `/v1/experiments/list-bad/runs?cursor=${Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString("base64url")}`,
    });
    expect(forged.status).toBe(400);
  });
});
