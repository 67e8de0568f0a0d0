import { describe, expect, test } from "./support/app.js";

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("experiments", () => {
  test("create answers 201 with the experiment and defaults", async ({ api }) => {
    const res = await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-create" } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: "exp-create",
      name: null,
      description: null,
      wandb_entity: null,
      wandb_project: null,
      config: {},
      created_at: expect.stringMatching(ISO_MS),
      updated_at: res.body.created_at,
    });
  });

  test("create keeps every field, and get reads it back", async ({ api }) => {
    const payload = {
      id: "Exp_2.full-A",
      name: "Ripple PDE",
      description: "learning rate sweep",
      wandb_entity: "methodic",
      wandb_project: "ripple-pde",
      config: { lr: 3e-4, layers: [64, 64], nested: { seed: 1234 } },
    };
    const created = await api.request({ method: "POST", url: "/v1/experiments", payload });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject(payload);
    const read = await api.request({ method: "GET", url: "/v1/experiments/Exp_2.full-A" });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  test("a second create with the same id is 409 already_exists and changes nothing", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-dup", name: "first" } });
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "exp-dup", name: "second" },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("already_exists");
    const read = await api.request({ method: "GET", url: "/v1/experiments/exp-dup" });
    expect(read.body.name).toBe("first");
  });

  test("an unknown experiment is 404 experiment_not_found", async ({ api }) => {
    for (const [method, payload] of [
      ["GET", undefined],
      ["PATCH", { name: "x" }],
    ] as const) {
      const res = await api.request({ method, url: "/v1/experiments/nope", payload });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: {
          code: "experiment_not_found",
          message: "Experiment 'nope' does not exist.",
          request_id: res.headers["x-request-id"],
        },
      });
    }
  });

  test.for([
    ["an id starting with a dash", { id: "-exp" }, "id"],
    ["an id with a slash", { id: "a/b" }, "id"],
    ["an id with a space", { id: "a b" }, "id"],
    ["an empty id", { id: "" }, "id"],
    ["an id of 129 characters", { id: "a".repeat(129) }, "id"],
    ["a missing id", { name: "x" }, "id"],
    ["a numeric id", { id: 12 }, "id"],
    ["an unknown field", { id: "ok", colour: "red" }, "colour"],
    ["a config that is an array", { id: "ok", config: [1, 2] }, "config"],
    ["a config that is a string", { id: "ok", config: "{}" }, "config"],
    ["a null config", { id: "ok", config: null }, "config"],
    ["a W&B project with a slash", { id: "ok", wandb_project: "a/b" }, "wandb_project"],
    ["an empty name", { id: "ok", name: "" }, "name"],
  ] as const)("create with %s is 400 invalid_request naming the field", async ([, payload, field], { api }) => {
    const res = await api.request({ method: "POST", url: "/v1/experiments", payload: payload as object });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.message).toContain(`body.${field}`);
    expect(res.body.error.details.fields).toContainEqual(expect.objectContaining({ in: "body", path: field }));
    const read = await api.request({ method: "GET", url: "/v1/experiments/ok" });
    expect(read.status).toBe(404);
  });

  test("an id of 128 characters is accepted", async ({ api }) => {
    const id = `a${"b".repeat(127)}`;
    const res = await api.request({ method: "POST", url: "/v1/experiments", payload: { id } });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(id);
  });

  test("PATCH changes the given fields, null clears, absent fields stay", async ({ api }) => {
    const created = await api.request({
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "exp-patch", name: "n", description: "d", wandb_entity: "e", config: { a: 1 } },
    });
    const res = await api.request({
      method: "PATCH",
      url: "/v1/experiments/exp-patch",
      payload: { description: null, wandb_project: "p", config: { b: 2 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: "exp-patch",
      name: "n",
      description: null,
      wandb_entity: "e",
      wandb_project: "p",
      config: { b: 2 },
      created_at: created.body.created_at,
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(created.body.created_at));
  });

  test("PATCH that changes nothing keeps updated_at", async ({ api }) => {
    await api.request({
      method: "POST",
      url: "/v1/experiments",
      payload: { id: "exp-same", name: "n", config: { a: 1 } },
    });
    await new Promise((r) => setTimeout(r, 5));
    const before = await api.request({ method: "GET", url: "/v1/experiments/exp-same" });
    const res = await api.request({
      method: "PATCH",
      url: "/v1/experiments/exp-same",
      payload: { name: "n", config: { a: 1 } },
    });
    expect(res.status).toBe(200);
    expect(res.body.updated_at).toBe(before.body.updated_at);
    const empty = await api.request({ method: "PATCH", url: "/v1/experiments/exp-same", payload: {} });
    expect(empty.body).toEqual(before.body);
  });

  test("PATCH rejects the id and unknown fields", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "exp-patch-bad" } });
    const res = await api.request({ method: "PATCH", url: "/v1/experiments/exp-patch-bad", payload: { id: "other" } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([{ in: "body", path: "id", message: "is not a known field" }]);
  });

  test("an invalid id in the path is 400, not 404", async ({ api }) => {
    const res = await api.request({ method: "GET", url: "/v1/experiments/-bad" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields[0]).toMatchObject({ in: "params", path: "exp" });
  });
});

describe("request bodies", () => {
  test("malformed JSON is 400 invalid_request", async ({ api }) => {
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/json" },
      payload: '{"id": "x",',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.message).toMatch(/JSON/);
  });

  test("a JSON body that is not an object is 400", async ({ api }) => {
    for (const payload of ["[1,2]", '"text"', "42"]) {
      const res = await api.request({
        method: "POST",
        url: "/v1/experiments",
        headers: { "content-type": "application/json" },
        payload,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });

  test("a missing body on a route that needs one is 400", async ({ api }) => {
    const res = await api.request({ method: "POST", url: "/v1/experiments" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  test("a body that is not JSON is 415", async ({ api }) => {
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/xml" },
      payload: "<id>x</id>",
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  test("a prototype-polluting key is refused", async ({ api }) => {
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/json" },
      payload: '{"id":"proto","config":{"__proto__":{"admin":true}}}',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  test("a body over 16 MiB is 413 payload_too_large, and one just under is read", async ({ api }) => {
    const big = JSON.stringify({ id: "exp-big", config: { blob: "x".repeat(16 * 1024 * 1024) } });
    const res = await api.request({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/json" },
      payload: big,
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(res.body.error.message).toContain("16 MiB");

    // A config is at most 1 MiB: the rest of a body just under the limit is whitespace.
    const fits = `${JSON.stringify({ id: "exp-fits", config: { blob: "x".repeat(1000 * 1024) } })}${" ".repeat(15 * 1024 * 1024)}`;
    const ok = await api.request({
      method: "POST",
      url: "/v1/experiments",
      headers: { "content-type": "application/json" },
      payload: fits,
    });
    expect(ok.status).toBe(201);
  });
});
