import { readFile, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { embeddedServers } from "./support/server-process.js";

const { start, dataDir } = embeddedServers();

describe("the embedded default (PGlite in the data dir)", () => {
  test("SIGTERM shuts down cleanly, and a restart on the same data dir keeps every record", async () => {
    const dir = await dataDir();
    const first = start(dir);
    await first.url;
    const created = await first.fetch("/v1/experiments", {
      method: "POST",
      body: JSON.stringify({ id: "kept", name: "survives restarts", config: { lr: 0.01 } }),
    });
    expect(created.status).toBe(201);
    await first.fetch("/v1/experiments/kept/variations/v1", { method: "PUT" });

    expect((await first.stop()).code).toBe(0);

    const second = start(dir);
    await second.url;
    const experiment = await second.fetch("/v1/experiments/kept");
    expect(experiment.status).toBe(200);
    expect(await experiment.json()).toEqual(await created.json());
    const variations = (await (await second.fetch("/v1/experiments/kept/variations")).json()) as {
      items: { variation: string }[];
    };
    expect(variations.items.map((v: { variation: string }) => v.variation)).toEqual(["v1"]);
  });

  test("the first start generates an admin token readable by its owner only, and prints its path", async () => {
    const dir = await dataDir();
    const server = start(dir);
    await server.url;
    const path = join(dir, "admin-token");
    const token = (await readFile(path, "utf8")).trim();
    expect(token).toMatch(/^mth_[A-Za-z0-9_-]{43}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(server.stdout()).toContain(path);
    expect(server.stdout()).not.toContain(token);

    expect((await server.fetch("/v1/tokens")).status).toBe(200);
    const anonymous = await fetch(`${await server.url}/v1/experiments`);
    expect(anonymous.status).toBe(401);

    // A restart reads the same token back.
    expect((await server.stop()).code).toBe(0);
    const again = start(dir);
    await again.url;
    expect((await readFile(path, "utf8")).trim()).toBe(token);
    expect((await again.fetch("/v1/tokens")).status).toBe(200);
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
      headers: {
        authorization: `Bearer ${(await readFile(join(dir, "admin-token"), "utf8")).trim()}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      },
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
    expect((await server.exit).code).toBe(0);
  });

  test("a bad variable stops start-up with one line naming it", async () => {
    const dir = await dataDir();
    for (const [name, value] of [
      ["PORT", "eighty"],
      ["DATABASE_URL", "mysql://localhost/x"],
      ["METHODIC_PART_SIZE", "1024"],
    ] as const) {
      const server = start(dir, { [name]: value });
      expect((await server.exit).code).toBe(1);
      const lines = server.stderr().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${name} `));
    }
  });
});
