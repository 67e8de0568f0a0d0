import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ADMIN_TOKEN,
  createDatabase,
  driversUnderTest,
  type ServerProcess,
  spawnServer,
  startS3,
  type TestDatabase,
  type TestS3,
} from "../src/testing/index.js";
import { bytesOf, type File, filesBody, PART_SIZE, partHashes, pieces, sha256 } from "./support/assets.js";
import { httpCall } from "./support/http.js";
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
let server: ServerProcess;
let url: string;

/** A server on the test's database and storage, the latter through the gate. */
async function startChronicle(): Promise<void> {
  server = spawnServer({
    METHODIC_DATA_DIR: dataDir,
    METHODIC_ADMIN_TOKEN: ADMIN_TOKEN,
    ...s3.env,
    S3_ENDPOINT: gate.url,
    ...(database?.url && { DATABASE_URL: database.url }),
  });
  url = await server.url;
}

const call = (method: string, path: string, body?: object) => httpCall(url, method, path, body);

beforeAll(async () => {
  s3 = await startS3();
  gate = await new StorageGate(s3.endpoint).start();
  // PGlite lives in the data dir, as a server's own; PostgreSQL is a database of the test's.
  if (driver === "postgres") database = await createDatabase();
  dataDir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "finalize-crash-"));
  await startChronicle();
  expect((await call("POST", "/v1/experiments", { id: "crash" })).status).toBe(201);
  expect((await call("POST", "/v1/experiments/crash/variations/v/runs/0/start")).status).toBe(200);
});

afterAll(async () => {
  await server?.stop("SIGKILL");
  await gate?.close();
  await s3?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A pending asset of `files` whose every piece is in storage and reported. */
async function uploadedAsset(): Promise<string> {
  const created = await call("POST", "/v1/experiments/crash/variations/v/runs/0/assets", filesBody(files));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const parts = [];
  for (const piece of pieces(created.body.upload, files)) {
    const headers = Object.fromEntries(Object.entries(piece.headers).filter(([k]) => k !== "content-length"));
    const res = await fetch(piece.url, { method: "PUT", body: bytesOf(piece, files), headers });
    expect(res.status, await res.clone().text()).toBe(200);
    parts.push({ path: piece.path, part_number: piece.part_number, etag: res.headers.get("etag") });
  }
  const reported = await call("POST", `/v1/assets/${created.body.asset.id}/parts`, { parts });
  expect(reported.status, JSON.stringify(reported.body)).toBe(200);
  return created.body.asset.id;
}

const isComplete = (id: string) => new RegExp(`/assets/${id}/\\d+\\?uploadId=`);

/** What S3 must report for a component's object: its size and its (composite, for parts) SHA-256. */
function expectedObject(file: File) {
  if (file.bytes.length <= PART_SIZE) {
    return { size: file.bytes.length, checksum: Buffer.from(sha256(file.bytes), "hex").toString("base64") };
  }
  const digests = partHashes(file.bytes, PART_SIZE).map((hex) => Buffer.from(hex, "hex"));
  const composite = Buffer.from(sha256(Buffer.concat(digests)), "hex").toString("base64");
  return { size: file.bytes.length, checksum: `${composite}-${digests.length}` };
}

/**
 * The asset as the restarted server tells it: pending, or ready with every object in storage whole
 * (size and checksum) and every file downloaded byte for byte. Answers the state.
 */
async function expectConsistent(id: string): Promise<string> {
  const asset = await call("GET", `/v1/assets/${id}`);
  expect(asset.status).toBe(200);
  expect(["pending", "ready"]).toContain(asset.body.state);
  if (asset.body.state === "ready") {
    for (const [index, file] of files.entries()) {
      const head = await s3.client.send(
        new HeadObjectCommand({ Bucket: s3.bucket, Key: `assets/${id}/${index}`, ChecksumMode: "ENABLED" }),
      );
      expect({ size: head.ContentLength, checksum: head.ChecksumSHA256 }, file.path).toEqual(expectedObject(file));
    }
    const plan = await call("GET", `/v1/assets/${id}/download`);
    expect(plan.status).toBe(200);
    for (const component of plan.body.components) {
      const bytes = Buffer.from(await (await fetch(component.url)).arrayBuffer());
      expect(bytes.equals(files.find((f) => f.path === component.path)!.bytes), component.path).toBe(true);
    }
  }
  return asset.body.state;
}

/** Resolves once `condition` holds; fails if the server died first. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (server.child.exitCode !== null) throw new Error(`the server exited before ${what}:\n${server.output()}`);
    if (waited > 120_000) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Sends finalize, kills the server with SIGKILL once `killPoint` is reached, and starts another on the
 * same database and storage. Answers the asset's state as the new server tells it, consistent.
 */
async function finalizeKilled(id: string, killPoint: () => Promise<void>): Promise<string> {
  const finalize = call("POST", `/v1/assets/${id}/finalize`);
  await killPoint();
  await server.stop("SIGKILL");
  gate.hold(undefined);
  expect((await finalize).status, "the killed server answered finalize").toBe(0);
  await startChronicle();
  return expectConsistent(id);
}

/** Finalize, retried on the restarted server: the asset ends ready and whole. */
async function expectFinalizeSucceeds(id: string): Promise<void> {
  const finalized = await call("POST", `/v1/assets/${id}/finalize`);
  expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
  expect(finalized.body.asset.state).toBe("ready");
  expect(await expectConsistent(id)).toBe("ready");
}

describe(`the server SIGKILLed in the middle of finalize (${driver}, S3)`, () => {
  test("right after it read the request: pending or ready, and a retried finalize makes it ready and whole", async () => {
    const id = await uploadedAsset();
    const state = await finalizeKilled(id, async () => {
      await server.waitFor(new RegExp(`"url":"/v1/assets/${id}/finalize"[^\\n]*"msg":"incoming request"`));
    });
    const calls = gate.requests.filter((r) => r.url.includes(id)).length;
    console.log(`killed once it read finalize, after ${calls} of its storage calls: ${state}`);
    if (state === "pending") await expectFinalizeSucceeds(id);
  });

  test("after some of storage's completions: pending, and a retried finalize completes the rest", async () => {
    const id = await uploadedAsset();
    const completes = () => gate.matching("POST", isComplete(id));
    // The first half go through; the rest wait at the gate.
    gate.hold((req, seen) => {
      const complete = req.method === "POST" && isComplete(id).test(req.url);
      return complete && seen.filter((r) => r.method === "POST" && isComplete(id).test(r.url)).length >= MULTIPART / 2;
    });
    const state = await finalizeKilled(id, () =>
      until("half the completions are answered and the rest held", () => {
        const seen = completes();
        return seen.filter((r) => r.answered).length === MULTIPART / 2 && seen.filter((r) => r.held).length > 0;
      }),
    );
    expect(state).toBe("pending");
    await expectFinalizeSucceeds(id);
  });

  test("after every completion, before the last check: pending, and a retried finalize finds them completed", async () => {
    const id = await uploadedAsset();
    const completes = () => gate.matching("POST", isComplete(id));
    // Storage holds every object whole; the server dies checking them.
    gate.hold(
      (req) =>
        req.method === "HEAD" &&
        req.url.includes(`/assets/${id}/`) &&
        completes().filter((r) => r.answered).length === MULTIPART,
    );
    const state = await finalizeKilled(id, () =>
      until("every completion is answered and a check held", () => {
        const checks = gate.matching("HEAD", new RegExp(`/assets/${id}/`));
        return completes().filter((r) => r.answered).length === MULTIPART && checks.some((r) => r.held);
      }),
    );
    expect(state).toBe("pending");
    await expectFinalizeSucceeds(id);
    console.log(`completions sent over both finalizes: ${completes().length} for ${MULTIPART} components`);
  });
});
