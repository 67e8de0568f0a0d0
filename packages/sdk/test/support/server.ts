import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, loadConfig } from "@methodic/server";

export const ADMIN_TOKEN = "sdk-test-admin-token-0123456789";

/** A Chronicle server listening on 127.0.0.1 (a port of its own), on an in-memory PGlite. */
export async function startServer(env: NodeJS.ProcessEnv = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "methodic-sdk-"));
  const config = loadConfig({
    PORT: "0",
    LOG_LEVEL: "silent",
    METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
    METHODIC_DATA_DIR: dataDir,
    ...env,
  });
  const app = buildApp({ config, database: { driver: "pglite", dataDir: null }, logger: false });
  // What reached the server as file bytes (local blob PUTs), to tell how much an upload sent.
  const received = { blobBytes: 0 };
  app.addHook("onRequest", async (request) => {
    if (request.method === "PUT" && request.url.startsWith("/v1/blobs/")) {
      received.blobBytes += Number(request.headers["content-length"] ?? 0);
    }
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return {
    url,
    received,
    close: async () => {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
