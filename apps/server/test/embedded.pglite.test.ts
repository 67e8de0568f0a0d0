import { request as httpRequest } from "node:http";
import { describe, expect, test } from "vitest";
import { embeddedServers, stop } from "./support/server-process.js";

const { start, dataDir } = embeddedServers();

describe("the embedded default (PGlite in the data dir)", () => {
  test("SIGTERM shuts down cleanly, and a restart on the same data dir keeps every record", async () => {
    const dir = await dataDir();
    const first = start(dir);
    const url = await first.url;
    const created = await fetch(`${url}/v1/experiments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "kept", name: "survives restarts", config: { lr: 0.01 } }),
    });
    expect(created.status).toBe(201);
    await fetch(`${url}/v1/experiments/kept/variations/v1`, { method: "PUT" });

    expect(await stop(first)).toBe(0);

    const second = start(dir);
    const again = await second.url;
    const experiment = await fetch(`${again}/v1/experiments/kept`);
    expect(experiment.status).toBe(200);
    expect(await experiment.json()).toEqual(await created.json());
    const variations = (await (await fetch(`${again}/v1/experiments/kept/variations`)).json()) as {
      items: { variation: string }[];
    };
    expect(variations.items.map((v: { variation: string }) => v.variation)).toEqual(["v1"]);
  });

  test("SIGTERM lets a request in flight finish, then exits", async () => {
    const dir = await dataDir();
    const server = start(dir);
    const url = new URL(await server.url);
    const body = JSON.stringify({ id: "in-flight", description: "sent in two halves" });
    const request = httpRequest({
      host: url.hostname,
      port: url.port,
      method: "POST",
      path: "/v1/experiments",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      request.on("response", (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      request.on("error", reject);
    });
    request.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect(server.child.exitCode).toBeNull();
    request.end(body.slice(10));

    const answer = await response;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ id: "in-flight" });
    expect(await server.exit).toBe(0);
  });

  test("a bad variable stops start-up with one line naming it", async () => {
    const dir = await dataDir();
    for (const [name, value] of [
      ["PORT", "eighty"],
      ["DATABASE_URL", "mysql://localhost/x"],
      ["METHODIC_PART_SIZE", "1024"],
    ] as const) {
      const server = start(dir, { [name]: value });
      expect(await server.exit).toBe(1);
      const lines = server.stderr().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${name} `));
    }
  });
});
