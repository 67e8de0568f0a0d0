import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_TOKEN } from "../src/testing/index.js";
import { bytesOf, type File, filesBody, PART_SIZE, pieces } from "./support/assets.js";
import {
  CrashingServer,
  consistentWith,
  expectFinalizeDurable,
  expectKilledAfterReadingRecovers,
} from "./support/crashing-server.js";

// The embedded default: PGlite and the blobs in the data dir, both left as a SIGKILL leaves them.
const files: File[] = [
  { path: "model.bin", bytes: randomBytes(PART_SIZE + 4096) },
  ...Array.from({ length: 64 }, (_, i) => ({ path: `shards/${i}.bin`, bytes: randomBytes(2048 + i) })),
  { path: "empty", bytes: Buffer.alloc(0) },
];

let dataDir: string;
let server: CrashingServer;

beforeAll(async () => {
  dataDir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "finalize-crash-"));
  server = new CrashingServer({ METHODIC_DATA_DIR: dataDir, METHODIC_ADMIN_TOKEN: ADMIN_TOKEN });
  await server.start();
  expect((await server.call("POST", "/v1/experiments", { id: "crash" })).status).toBe(201);
  expect((await server.call("POST", "/v1/experiments/crash/variations/v/runs/0/start")).status).toBe(200);
});

afterAll(async () => {
  await server?.kill();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const consistent = () => consistentWith(server, files);

/** A pending asset of `files` with every piece sent (the server records each as it arrives). */
async function uploadedAsset(): Promise<string> {
  const created = await server.call("POST", "/v1/experiments/crash/variations/v/runs/0/assets", filesBody(files));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  for (const piece of pieces(created.body.upload, files)) {
    const res = await fetch(piece.url, {
      method: "PUT",
      body: bytesOf(piece, files),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }
  return created.body.asset.id;
}

describe("the embedded server SIGKILLed at finalize (PGlite, local disk)", { timeout: 300_000 }, () => {
  test("right after it read the request: pending or ready, and a retried finalize makes it ready and whole", async () => {
    const state = await expectKilledAfterReadingRecovers(server, await uploadedAsset(), consistent());
    console.log(`killed once it read finalize: ${state}`);
  });

  test("right after it answered: ready for good", async () => {
    await expectFinalizeDurable(server, await uploadedAsset(), consistent());
  });
});
