import { sql } from "drizzle-orm";
import { describe, expect, test } from "./support/app.js";

describe("variations", () => {
  test("PUT creates (201), then answers 200 for the existing variation", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-put" } });
    const created = await api.request({
      method: "PUT",
      url: "/v1/experiments/exp-put/variations/lr-3e-4",
      payload: { description: "base", config: { lr: 3e-4 } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      experiment_id: "exp-put",
      variation: "lr-3e-4",
      description: "base",
      config: { lr: 3e-4 },
      run_counts: { running: 0, succeeded: 0, failed: 0, lost: 0 },
      created_at: expect.any(String),
      updated_at: created.body.created_at,
    });

    const again = await api.request({
      method: "PUT",
      url: "/v1/experiments/exp-put/variations/lr-3e-4",
      payload: { description: "base", config: { lr: 3e-4 } },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);
  });

  test("PUT without a body creates an empty variation, and leaves an existing one as it is", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-put-empty" } });
    const created = await api.request({ method: "PUT", url: "/v1/experiments/exp-put-empty/variations/v" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ description: null, config: {} });

    await api.request({
      method: "PUT",
      url: "/v1/experiments/exp-put-empty/variations/v",
      payload: { description: "kept", config: { k: 1 } },
    });
    const bare = await api.request({ method: "PUT", url: "/v1/experiments/exp-put-empty/variations/v" });
    expect(bare.status).toBe(200);
    expect(bare.body).toMatchObject({ description: "kept", config: { k: 1 } });
  });

  test("PUT changes only the given fields and moves updated_at only on a change", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-put-change" } });
    const url = "/v1/experiments/exp-put-change/variations/v";
    const first = await api.request({ method: "PUT", url, payload: { description: "d", config: { a: 1 } } });
    await new Promise((r) => setTimeout(r, 5));
    const same = await api.request({ method: "PUT", url, payload: { config: { a: 1 } } });
    expect(same.body.updated_at).toBe(first.body.updated_at);

    const changed = await api.request({ method: "PUT", url, payload: { config: { a: 2 } } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ description: "d", config: { a: 2 }, created_at: first.body.created_at });
    expect(Date.parse(changed.body.updated_at)).toBeGreaterThan(Date.parse(first.body.updated_at));

    const cleared = await api.request({ method: "PUT", url, payload: { description: null } });
    expect(cleared.body).toMatchObject({ description: null, config: { a: 2 } });
  });

  test("PUT, GET and list on an unknown experiment are 404 experiment_not_found", async ({ api }) => {
    for (const [method, url] of [
      ["PUT", "/v1/experiments/ghost/variations/v"],
      ["GET", "/v1/experiments/ghost/variations/v"],
      ["GET", "/v1/experiments/ghost/variations"],
    ] as const) {
      const res = await api.request({ method, url });
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.error.code).toBe("experiment_not_found");
    }
  });

  test("GET of an unknown variation is 404 variation_not_found", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-var-404" } });
    const res = await api.request({ method: "GET", url: "/v1/experiments/exp-var-404/variations/missing" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        code: "variation_not_found",
        message: "Variation 'missing' of experiment 'exp-var-404' does not exist.",
        request_id: res.headers["x-request-id"],
      },
    });
  });

  test.for([
    ["an invalid variation key", "/v1/experiments/exp-var-bad/variations/.hidden", {}, "params"],
    ["a key with a space", "/v1/experiments/exp-var-bad/variations/a%20b", {}, "params"],
    ["an unknown field", "/v1/experiments/exp-var-bad/variations/v", { name: "x" }, "body"],
    ["a config that is an array", "/v1/experiments/exp-var-bad/variations/v", { config: [] }, "body"],
    ["a description that is a number", "/v1/experiments/exp-var-bad/variations/v", { description: 5 }, "body"],
  ] as const)("PUT with %s is 400 invalid_request", async ([, url, payload, part], { api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-var-bad" } });
    const res = await api.request({ method: "PUT", url, payload });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields[0].in).toBe(part);
    const list = await api.request({ method: "GET", url: "/v1/experiments/exp-var-bad/variations" });
    expect(list.body.items).toEqual([]);
  });

  test("list and get count the variation's runs by state", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-counts" } });
    await api.request({ method: "PUT", url: "/v1/experiments/exp-counts/variations/a" });
    await api.request({ method: "PUT", url: "/v1/experiments/exp-counts/variations/b" });
    // Runs arrive with the runs routes; until then they are written directly.
    await api.app.db.execute(sql`
      insert into runs (experiment_id, variation, run, state) values
        ('exp-counts', 'a', 0, 'succeeded'), ('exp-counts', 'a', 1, 'failed'),
        ('exp-counts', 'a', 2, 'running'), ('exp-counts', 'a', 3, 'running'), ('exp-counts', 'a', 4, 'lost')`);
    const list = await api.request({ method: "GET", url: "/v1/experiments/exp-counts/variations" });
    expect(list.status).toBe(200);
    expect(list.body.items.map((v: any) => [v.variation, v.run_counts])).toEqual([
      ["b", { running: 0, succeeded: 0, failed: 0, lost: 0 }],
      ["a", { running: 2, succeeded: 1, failed: 1, lost: 1 }],
    ]);
    const one = await api.request({ method: "GET", url: "/v1/experiments/exp-counts/variations/a" });
    expect(one.body.run_counts).toEqual({ running: 2, succeeded: 1, failed: 1, lost: 1 });
  });

  test("variations of one experiment do not show in another's list", async ({ api }) => {
    for (const id of ["exp-iso-1", "exp-iso-2"]) {
      await api.request({ method: "POST", url: "/v1/experiments", payload: { id } });
    }
    await api.request({ method: "PUT", url: "/v1/experiments/exp-iso-1/variations/only-here" });
    const other = await api.request({ method: "GET", url: "/v1/experiments/exp-iso-2/variations" });
    expect(other.body).toEqual({ items: [], next_cursor: null });
  });
});
