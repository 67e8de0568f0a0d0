import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ADMIN_TOKEN,
  createDatabase,
  driversUnderTest,
  startS3,
  type TestDatabase,
  type TestS3,
} from "../src/testing/index.js";
import { bytesOf, type File, filesBody, PART_SIZE, partHashes, pieces, sha256 } from "./support/assets.js";
import {
  type Consistent,
  CrashingServer,
  consistentWith,
  expectFinalizeDurable,
  expectFinalizeSucceeds,
  finalizeKilled,
} from "./support/crashing-server.js";
import { StorageGate } from "./support/storage-gate.js";

/** Components in parts: each is one CompleteMultipartUpload at finalize. */
const MULTIPART = 6;
const files: File[] = [
  ...Array.from({ length: MULTIPART }, (_, i) => ({
    path: `shards/${i}.bin`,
    bytes: randomBytes(PART_SIZE + 1024 * (i + 1)),
  })),
  { path: "config.json", bytes: Buffer.from('{"step": 1000}') },
  { path: "empty", bytes: Buffer.alloc(0) },
];

const { database: driver } = driversUnderTest();
let s3: TestS3;
let gate: StorageGate;
let database: TestDatabase | undefined;
let dataDir: string;
let server: CrashingServer;

beforeAll(async () => {
  s3 = await startS3();
  // The server reaches storage through the gate; clients' presigned URLs go to S3 as usual.
  gate = await new StorageGate(s3.endpoint).start();
  // PGlite lives in the data dir, as a server's own; PostgreSQL is a database of the test's.
  if (driver === "postgres") database = await createDatabase();
  dataDir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "finalize-crash-"));
  server = new CrashingServer({
    METHODIC_DATA_DIR: dataDir,
    METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
    ...s3.env,
    S3_ENDPOINT: gate.url,
    ...(database?.url && { DATABASE_URL: database.url }),
  });
  await server.start();
  expect((await server.call("POST", "/v1/experiments", { id: "crash" })).status).toBe(201);
  expect((await server.call("POST", "/v1/experiments/crash/variations/v/runs/0/start")).status).toBe(200);
});

afterAll(async () => {
  await server?.kill();
  await gate?.close();
  await s3?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A pending asset of `files` whose every piece is in storage and reported. */
async function uploadedAsset(): Promise<string> {
  const created = await server.call("POST", "/v1/experiments/crash/variations/v/runs/0/assets", filesBody(files));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const parts = [];
  for (const piece of pieces(created.body.upload, files)) {
    const headers = Object.fromEntries(Object.entries(piece.headers).filter(([k]) => k !== "content-length"));
    const res = await fetch(piece.url, { method: "PUT", body: bytesOf(piece, files), headers });
    expect(res.status, await res.clone().text()).toBe(200);
    parts.push({ path: piece.path, part_number: piece.part_number, etag: res.headers.get("etag") });
  }
  const reported = await server.call("POST", `/v1/assets/${created.body.asset.id}/parts`, { parts });
  expect(reported.status, JSON.stringify(reported.body)).toBe(200);
  return created.body.asset.id;
}

/** What S3 must report for a component's object: its size and its (composite, for parts) SHA-256. */
function expectedObject(file: File) {
  if (file.bytes.length <= PART_SIZE) {
    return { size: file.bytes.length, checksum: Buffer.from(sha256(file.bytes), "hex").toString("base64") };
  }
  const digests = partHashes(file.bytes, PART_SIZE).map((hex) => Buffer.from(hex, "hex"));
  const composite = Buffer.from(sha256(Buffer.concat(digests)), "hex").toString("base64");
  return { size: file.bytes.length, checksum: `${composite}-${digests.length}` };
}

/** Every object in storage whole: its size and the checksum S3 keeps for it. */
async function storageHolds(id: string): Promise<void> {
  for (const [index, file] of files.entries()) {
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: `assets/${id}/${index}`, ChecksumMode: "ENABLED" }),
    );
    expect({ size: head.ContentLength, checksum: head.ChecksumSHA256 }, file.path).toEqual(expectedObject(file));
  }
}

/** Pending, or ready with storage whole and every file downloaded byte for byte. */
const consistent: Consistent = (id) => consistentWith(server, files, storageHolds)(id);

const isComplete = (id: string) => (req: { method: string; url: string }) =>
  req.method === "POST" && new RegExp(`/assets/${id}/\\d+\\?uploadId=`).test(req.url);

describe(`the server SIGKILLed in the middle of finalize (${driver}, S3)`, { timeout: 300_000 }, () => {
  test("right after it read the request: pending or ready, and a retried finalize makes it ready and whole", async () => {
    const id = await uploadedAsset();
    const state = await finalizeKilled(
      server,
      id,
      () => server.received("POST", `/v1/assets/${id}/finalize`),
      consistent,
    );
    const calls = gate.requests.filter((r) => r.url.includes(id)).length;
    console.log(`killed once it read finalize, after ${calls} of its storage calls: ${state}`);
    if (state === "pending") await expectFinalizeSucceeds(server, id, consistent);
  });

  test("after some of storage's completions: pending, and a retried finalize completes the rest", async () => {
    const id = await uploadedAsset();
    const completes = () => gate.requests.filter(isComplete(id));
    // The first half go through; the rest wait at the gate.
    gate.hold((req, seen) => isComplete(id)(req) && seen.filter(isComplete(id)).length >= MULTIPART / 2);
    const state = await finalizeKilled(
      server,
      id,
      () =>
        server.until("half the completions are answered and the rest held", () => {
          const seen = completes();
          return seen.filter((r) => r.answered).length === MULTIPART / 2 && seen.some((r) => r.held);
        }),
      consistent,
    );
    gate.hold(undefined);
    expect(state).toBe("pending");
    await expectFinalizeSucceeds(server, id, consistent);
  });

  test("after every completion, before the last check: pending, and a retried finalize finds them completed", async () => {
    const id = await uploadedAsset();
    const completes = () => gate.requests.filter(isComplete(id));
    const isCheck = (req: { method: string; url: string }) =>
      req.method === "HEAD" && req.url.includes(`/assets/${id}/`);
    // Storage holds every object whole; the server dies checking them.
    gate.hold((req) => isCheck(req) && completes().filter((r) => r.answered).length === MULTIPART);
    const state = await finalizeKilled(
      server,
      id,
      () =>
        server.until(
          "every completion is answered and a check held",
          () =>
            completes().filter((r) => r.answered).length === MULTIPART &&
            gate.requests.some((r) => isCheck(r) && r.held),
        ),
      consistent,
    );
    gate.hold(undefined);
    expect(state).toBe("pending");
    await expectFinalizeSucceeds(server, id, consistent);
    console.log(`completions sent over both finalizes: ${completes().length} for ${MULTIPART} components`);
  });

  test("right after it answered: ready for good", async () => {
    await expectFinalizeDurable(server, await uploadedAsset(), consistent);
  });
});
