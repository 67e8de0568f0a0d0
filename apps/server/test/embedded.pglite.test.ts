import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type ServerProcess, spawnServer, stop } from "./support/server-process.js";

const running: ServerProcess[] = [];
const dirs: string[] = [];

function start(dataDir: string, env: NodeJS.ProcessEnv = {}): ServerProcess {
  const server = spawnServer({ METHODIC_DATA_DIR: dataDir, ...env });
  running.push(server);
  return server;
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "methodic-embedded-"));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => stop(server, "SIGKILL")));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("the embedded default (PGlite in the data dir)", () => {
  test("a second server on the same data dir refuses to start, naming the first", async () => {
    const dir = await dataDir();
    const first = start(dir);
    const url = await first.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const second = start(dir);
    expect(await second.exit).toBe(1);
    const message = second.stderr().trim();
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toContain(`is in use by another Chronicle server (pid ${first.child.pid}`);

    // The first one is unharmed.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

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

  test("after a crash the data dir is taken over once the dead server's lock goes stale", async () => {
    const dir = await dataDir();
    const crashed = start(dir);
    await crashed.url;
    await stop(crashed, "SIGKILL");

    const next = start(dir);
    const url = await next.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 60_000);

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
