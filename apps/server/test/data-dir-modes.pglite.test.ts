import { createHash } from "node:crypto";
import { chmod, lstat, readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";
import { embeddedServers, type ServerProcess } from "./support/server-process.js";

const { start, dataDir } = embeddedServers();

/** Every path under `dir` (itself included) with its permission bits. */
async function modes(dir: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  const visit = async (path: string) => {
    const stats = await lstat(path);
    out.push({ path: relative(dir, path) || ".", dir: stats.isDirectory(), mode: stats.mode & 0o777 });
    if (stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return out;
}

/** The paths whose modes are not 0700 (folders) or 0600 (files). */
async function loose(dir: string): Promise<string[]> {
  return (await modes(dir))
    .filter((entry) => entry.mode !== (entry.dir ? 0o700 : 0o600))
    .map((entry) => `${entry.path} ${entry.mode.toString(8)}`);
}

/** Records an experiment and uploads one file through the local blob URL, as a trainer would. */
async function useIt(server: ServerProcess) {
  const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) });
  expect((await server.fetch("/v1/experiments", json({ id: "modes" }))).status).toBe(201);
  const run = "/v1/experiments/modes/variations/v/runs/0";
  expect((await server.fetch(`${run}/start`, { method: "POST" })).status).toBe(200);
  const bytes = Buffer.from("weights of a checkpoint");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const created = await server.fetch(
    `${run}/assets`,
    json({ asset_type: "checkpoint", components: [{ path: "w.bin", size: bytes.length, sha256 }] }),
  );
  expect(created.status).toBe(201);
  const { asset, upload } = (await created.json()) as any;
  const piece = upload.components[0];
  expect((await fetch(piece.url, { method: "PUT", body: bytes, headers: piece.headers })).status).toBe(200);
  expect((await server.fetch(`/v1/assets/${asset.id}/finalize`, { method: "POST" })).status).toBe(200);
}

describe("the embedded data dir", () => {
  test("and everything in it is readable and writable by its owner only", async () => {
    const dir = await dataDir();
    const server = start(dir);
    await server.url;
    await useIt(server);
    const names = (await modes(dir)).map((entry) => entry.path);
    // What the data dir holds, so that the modes below are those of real files.
    for (const name of ["admin-token", "signing-secret", "server.pid", "server.lock", "pgdata/PG_VERSION", "blobs"]) {
      expect(names).toContain(name);
    }
    expect(names.filter((name) => name.startsWith("blobs/")).length).toBeGreaterThan(0);
    expect(names.filter((name) => name.startsWith("pgdata/base/")).length).toBeGreaterThan(100);
    expect(await loose(dir)).toEqual([]);

    // And after a clean stop (the database's last writes included).
    expect((await server.stop()).code).toBe(0);
    expect(await loose(dir)).toEqual([]);
  });

  test("with loose modes (as an earlier version left it) is tightened at start", async () => {
    const dir = await dataDir();
    const first = start(dir);
    await first.url;
    await useIt(first);
    expect((await first.stop()).code).toBe(0);
    for (const entry of await modes(dir)) await chmod(join(dir, entry.path), entry.dir ? 0o755 : 0o666);
    expect((await loose(dir)).length).toBeGreaterThan(100);

    const second = start(dir);
    await second.url;
    expect(await loose(dir)).toEqual([]);
    expect(second.stdout()).toMatch(/"msg":"Made \d+ file\(s\) and folder\(s\) in the data dir readable/);
    expect((await second.fetch("/v1/experiments/modes")).status).toBe(200);
  });
});
