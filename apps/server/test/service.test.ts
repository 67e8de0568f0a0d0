import { type RouteDef, routes } from "@methodic/contract";
import { describe, expect, test } from "./support/app.js";

describe("service routes", () => {
  test("healthz answers ok", async ({ api }) => {
    const res = await api.request({ method: "GET", url: "/healthz" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  test("readyz checks the database and storage", async ({ api }) => {
    const res = await api.request({ method: "GET", url: "/readyz" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok", checks: { database: "ok", storage: "ok" } });
  });

  test("an unknown route is 404 not_found with the error body", async ({ api }) => {
    const res = await api.request({ method: "DELETE", url: "/v1/experiments?x=1" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        code: "not_found",
        message: "There is no route DELETE /v1/experiments.",
        request_id: expect.stringMatching(/^req_[A-Za-z0-9_-]{16}$/),
      },
    });
    expect(res.body.error.request_id).toBe(res.headers["x-request-id"]);
  });

  test("/docs renders the API documentation", async ({ api }) => {
    const res = await api.app.inject({ method: "GET", url: "/docs/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.body).toContain("swagger");
  });
});

describe("OpenAPI", () => {
  test("is OpenAPI 3.1 and describes every route of the contract with its schemas", async ({ api }) => {
    const res = await api.request({ method: "GET", url: "/openapi.json" });
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe("3.1.0");

    for (const [name, def] of Object.entries(routes) as [string, RouteDef][]) {
      const path = def.path.replace(/:(\w+)/g, "{$1}");
      const op = doc.paths[path]?.[def.method.toLowerCase()];
      expect(op, `${name}: ${def.method} ${path}`).toBeDefined();
      expect(op.summary).toBe(def.summary);
      for (const status of Object.keys(def.responses)) {
        expect(op.responses[status], `${name} answers ${status}`).toBeDefined();
        if (status === "204") continue;
        expect(op.responses[status].content?.["application/json"]?.schema, `${name} ${status} body`).toBeDefined();
      }
      if (def.access !== "none") expect(op.security, `${name} needs a token`).toEqual([{ bearer: [] }]);
      const params = (op.parameters ?? []) as { in: string; name: string }[];
      for (const key of Object.keys(def.params?.shape ?? {})) {
        expect(params, `${name} path parameter ${key}`).toContainEqual(
          expect.objectContaining({ in: "path", name: key }),
        );
      }
      for (const key of Object.keys(def.query?.shape ?? {})) {
        expect(params, `${name} query parameter ${key}`).toContainEqual(
          expect.objectContaining({ in: "query", name: key }),
        );
      }
      if (def.body) expect(op.requestBody?.content?.["application/json"]?.schema, `${name} body`).toBeDefined();
    }
  });

  test("names the error codes of each status a route answers, and only those", async ({ api }) => {
    const { body: doc } = await api.request({ method: "GET", url: "/openapi.json" });
    const codes = (path: string, method: string, status: number) => {
      const schema = doc.paths[path][method].responses[String(status)].content["application/json"].schema;
      return schema.properties.error.properties.code.enum as string[];
    };
    const heartbeat = "/v1/experiments/{exp}/variations/{var}/runs/{run}/heartbeat";
    expect(codes(heartbeat, "post", 409)).toEqual(["run_finished"]);
    expect(codes(heartbeat, "post", 404)).toEqual(["experiment_not_found", "variation_not_found", "run_not_found"]);
    expect(codes("/v1/assets/{id}/finalize", "post", 409)).toEqual(["asset_aborted", "asset_incomplete"]);
    expect(codes("/v1/experiments", "post", 400)).toEqual(["invalid_request"]);
    // A route without a body cannot answer 413 or 415; one without a token, 401 or 403.
    expect(doc.paths[heartbeat].post.responses["413"]).toBeUndefined();
    expect(doc.paths["/healthz"].get.responses["401"]).toBeUndefined();
    expect(Object.keys(doc.paths["/healthz"].get.responses).sort()).toEqual(["200", "500", "503"]);
  });

  test("a body a route may go without is not required, and one it needs is", async ({ api }) => {
    const { body: doc } = await api.request({ method: "GET", url: "/openapi.json" });
    const run = "/v1/experiments/{exp}/variations/{var}/runs/{run}";
    for (const [path, method] of [
      [`${run}/start`, "post"],
      [`${run}/succeed`, "post"],
      [`${run}/fail`, "post"],
      ["/v1/experiments/{exp}/variations/{var}", "put"],
    ] as const) {
      const body = doc.paths[path][method].requestBody;
      expect(body.required, `${method} ${path}`).toBe(false);
      // Nothing, or an object: a null body is refused.
      expect(body.content["application/json"].schema.$ref, `${method} ${path}`).toMatch(/^#\/components\/schemas\//);
    }
    expect(doc.paths["/v1/experiments"].post.requestBody.required).toBe(true);
  });

  test("names the shared schemas once, as components", async ({ api }) => {
    const { body: doc } = await api.request({ method: "GET", url: "/openapi.json" });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Experiment", "Variation", "Error"]));
    const error = doc.components.schemas.Error;
    expect(error.properties.error.properties.code.enum).toContain("invalid_request");
    const create = doc.paths["/v1/experiments"].post;
    expect(JSON.stringify(create.responses["201"])).toContain("#/components/schemas/Experiment");
  });
});
