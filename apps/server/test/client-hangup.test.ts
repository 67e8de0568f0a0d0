import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { expect, test } from "vitest";
import { startServer } from "../src/testing/index.js";
import { apiFor } from "./support/app.js";
import { assetCall, createFiles, local, MiB, pieces, startRun } from "./support/assets.js";
import { captureLogs } from "./support/logs.js";

test("a client that hangs up in the middle of a blob PUT is logged as that, not as an outage, and nothing is recorded", async () => {
  const log = captureLogs();
  const { app, url, received, close } = await startServer({ logger: { level: "info", stream: log.stream } });
  try {
    const port = Number(new URL(url).port);
    const api = apiFor(app);
    const files = [{ path: "model.bin", bytes: randomBytes(2 * MiB) }];
    const { asset, upload } = await createFiles(api, await startRun(api, "hangup"), files);
    const [piece] = pieces(upload, files);

    // Half the body, then the connection drops: a trainer killed or interrupted mid-upload.
    const put = request({
      host: "127.0.0.1",
      port,
      method: "PUT",
      path: local(piece!.url),
      headers: { ...piece!.headers, "content-length": String(2 * MiB) },
    });
    put.on("error", () => {});
    put.write(files[0]!.bytes.subarray(0, MiB));
    // Only once the server has begun to take the PUT (a busy machine may take a while to get there).
    for (let i = 0; i < 600 && received.blobBytes === 0; i++) await sleep(50);
    await sleep(200);
    put.destroy();
    for (let i = 0; i < 600 && !log.text().includes("closed the connection"); i++) await sleep(50);

    const entries = log.entries().filter((e) => String(e.msg).includes("closed the connection"));
    expect(entries).toHaveLength(1);
    expect(entries[0]?.level).toBe(30);
    expect(log.text()).not.toContain("unreachable");
    // The piece is still missing, and the server goes on answering.
    const plan = await assetCall(api, asset.id, "uploads");
    expect(plan.status).toBe(200);
    expect(plan.body.upload.components.map((c: { path: string }) => c.path)).toEqual(["model.bin"]);
  } finally {
    await close();
  }
});
