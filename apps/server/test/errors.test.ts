import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startApp } from "./support/app.js";

describe("an unexpected failure", () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const logged: string[] = [];

  beforeAll(async () => {
    ({ app, close } = await startApp(
      {},
      {
        logger: { level: "error", stream: { write: (line: string) => logged.push(line) } },
        // A route of the real app whose handler fails the way a bug would.
        prepare: (app) =>
          app.get("/v1/broken", async () => {
            throw new Error("secret internals at /srv/app/handler.ts:12");
          }),
      },
    ));
  });

  afterAll(() => close());

  test("answers 500 internal with the error body and no internals, and logs the cause", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/broken" });
    expect(res.statusCode).toBe(500);
    const requestId = res.headers["x-request-id"];
    expect(res.json()).toEqual({
      error: {
        code: "internal",
        message: "The server failed to handle this request; it has been logged.",
        request_id: requestId,
      },
    });
    expect(res.body).not.toContain("secret");
    expect(res.body).not.toContain("handler.ts");
    // The cause is logged with the id the client was given, so a quoted id finds it.
    const line = logged.find((l) => l.includes("secret internals"));
    expect(line).toBeDefined();
    expect(JSON.parse(line!).request_id).toBe(requestId);
  });
});
