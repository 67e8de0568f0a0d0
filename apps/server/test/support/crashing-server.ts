import { expect } from "vitest";
import { type ServerProcess, spawnServer } from "../../src/testing/index.js";
import type { File } from "./assets.js";
import { httpCall } from "./http.js";

/**
 * The server in a child process that a test kills with SIGKILL and starts again, on the same
 * database and storage (the same environment) each time.
 */
export class CrashingServer {
  process: ServerProcess | undefined;
  url = "";

  constructor(private readonly env: NodeJS.ProcessEnv & { METHODIC_DATA_DIR: string }) {}

  async start(): Promise<void> {
    this.process = spawnServer(this.env);
    this.url = await this.process.url;
  }

  call(method: string, path: string, body?: object) {
    return httpCall(this.url, method, path, body);
  }

  async kill(): Promise<void> {
    await this.process?.stop("SIGKILL");
  }

  /** Resolves once `condition` holds; fails if the server exited first. */
  async until(what: string, condition: () => boolean): Promise<void> {
    for (let waited = 0; !condition(); waited += 50) {
      if (this.process?.child.exitCode !== null) {
        throw new Error(`the server exited before ${what}:\n${this.process?.output()}`);
      }
      if (waited > 120_000) throw new Error(`never: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Resolves once the server logged that it read this request. */
  async received(method: string, path: string): Promise<void> {
    const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await this.process?.waitFor(new RegExp(`"method":"${method}","url":"${escaped}"[^\\n]*"msg":"incoming request"`));
  }
}

/** The asset's state as the server tells it, having checked that it agrees with storage. */
export type Consistent = (id: string) => Promise<string>;

/**
 * The check after a restart: the asset is pending, or ready with every file downloaded byte for byte
 * (and whatever `storageHolds` checks of storage itself).
 */
export function consistentWith(
  server: CrashingServer,
  files: File[],
  storageHolds: (id: string) => Promise<void> = async () => {},
): Consistent {
  return async (id) => {
    const asset = await server.call("GET", `/v1/assets/${id}`);
    expect(asset.status).toBe(200);
    expect(["pending", "ready"]).toContain(asset.body.state);
    if (asset.body.state === "ready") {
      await storageHolds(id);
      await expectDownloadsExact(server, id, files);
    }
    return asset.body.state;
  };
}

/**
 * Sends finalize, SIGKILLs the server once `killPoint` resolves (with finalize unanswered), starts
 * another on the same database and storage, and answers the asset's state as that one tells it.
 */
export async function finalizeKilled(
  server: CrashingServer,
  id: string,
  killPoint: () => Promise<void>,
  consistent: Consistent,
): Promise<string> {
  const finalize = server.call("POST", `/v1/assets/${id}/finalize`);
  await killPoint();
  await server.kill();
  expect((await finalize).status, "the killed server answered finalize").toBe(0);
  await server.start();
  return consistent(id);
}

/**
 * SIGKILL as soon as the server logged reading finalize: pending or ready, and if pending, a retried
 * finalize makes it ready and whole. Answers the state the restarted server found.
 */
export async function expectKilledAfterReadingRecovers(server: CrashingServer, id: string, consistent: Consistent) {
  const state = await finalizeKilled(
    server,
    id,
    () => server.received("POST", `/v1/assets/${id}/finalize`),
    consistent,
  );
  if (state === "pending") await expectFinalizeSucceeds(server, id, consistent);
  return state;
}

/** Finalize, retried on the restarted server: the asset ends ready, and whole. */
export async function expectFinalizeSucceeds(server: CrashingServer, id: string, consistent: Consistent) {
  const finalized = await server.call("POST", `/v1/assets/${id}/finalize`);
  expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
  expect(finalized.body.asset.state).toBe("ready");
  expect(await consistent(id)).toBe("ready");
}

/** A finalize answered 200, then SIGKILL at once: the restarted server still has the asset ready. */
export async function expectFinalizeDurable(server: CrashingServer, id: string, consistent: Consistent) {
  const finalized = await server.call("POST", `/v1/assets/${id}/finalize`);
  expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
  await server.kill();
  await server.start();
  expect(await consistent(id)).toBe("ready");
}

/** Every component of a ready asset, through its download URL, byte for byte what was uploaded. */
export async function expectDownloadsExact(server: CrashingServer, id: string, files: File[]): Promise<void> {
  const plan = await server.call("GET", `/v1/assets/${id}/download`);
  expect(plan.status, JSON.stringify(plan.body)).toBe(200);
  expect(plan.body.components.map((c: { path: string }) => c.path).sort()).toEqual(files.map((f) => f.path).sort());
  for (const component of plan.body.components) {
    const res = await fetch(component.url);
    expect(res.status, component.path).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(files.find((f) => f.path === component.path)!.bytes), component.path).toBe(true);
  }
}
