import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { listFiles } from "../src/files.js";
import { hashFile } from "../src/hashing.js";
import { Chronicle } from "../src/index.js";
import { UploadTracker } from "../src/upload-tracker.js";
import { spawnTrainer } from "./trainer.js";

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const CONCURRENCY = 2;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

test("a trainer killed mid-upload is resumed by the next process: same asset, at most the pieces in flight sent again", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, partSize: PART });
  await chronicle.createExperiment({ id: "resume" });
  await chronicle.run("resume", "v", 0).start();
  const dir = await mkdtemp(join(tmpdir(), "methodic-resume-"));
  await writeFile(join(dir, "model.bin"), randomBytes(40 * MiB));
  await writeFile(join(dir, "config.json"), '{"step": 3}');
  const size = 40 * MiB + 11;
  const dbPath = join(dir, "..", `${dir.split("/").pop()}-uploads.sqlite`);

  const script = `
    import { Chronicle } from "@methodic/sdk";
    import { UploadTracker } from "@methodic/sdk/upload-tracker";
    const run = new Chronicle({ partSize: ${PART} }).run("resume", "v", 0);
    const upload = run.uploadDirectoryAsync(${JSON.stringify(dir)}, {
      asset_type: "checkpoint",
      uploadTracker: new UploadTracker({ dbPath: ${JSON.stringify(dbPath)} }),
      concurrency: ${CONCURRENCY},
    });
    // Killed the moment it has sent 15 MiB, in the middle of its pieces in flight.
    upload.on("progress", (p) => { if (p.bytesSent >= ${15 * MiB}) process.kill(process.pid, "SIGKILL"); });
    await upload.done;
    console.log("finished");`;
  const trainer = spawnTrainer(script, server);
  expect(await trainer.exit, trainer.output()).toEqual({ code: null, signal: "SIGKILL" });
  expect(trainer.stdout(), "the upload finished before it could be killed").not.toContain("finished");

  const tracker = new UploadTracker({ dbPath });
  const [pending] = tracker.pending();
  expect(pending?.directory).toBe(dir);
  const asset = await chronicle.getAsset(pending!.assetId);
  expect(asset.state).toBe("pending");

  // The next process: same directory, run and tracker.
  const resuming = chronicle
    .run("resume", "v", 0)
    .uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker, concurrency: CONCURRENCY });
  const [{ bytesSent: alreadyStored }] = await once(resuming, "progress");
  const resumed = await resuming.done;
  // The first progress event tells what the server held already: at least what the killed process saw sent.
  expect(alreadyStored).toBeGreaterThanOrEqual(15 * MiB);
  expect(alreadyStored).toBeLessThan(size);
  expect(resumed.id).toBe(asset.id);
  expect(resumed.state).toBe("ready");
  const sentTwice = server.received.blobBytes - size;
  console.log(`resume sent ${(sentTwice / MiB).toFixed(1)} MiB twice (bound: ${(CONCURRENCY * PART) / MiB} MiB)`);
  expect(sentTwice).toBeGreaterThanOrEqual(0);
  expect(sentTwice).toBeLessThanOrEqual(CONCURRENCY * PART);
  expect(tracker.pending()).toEqual([]);

  // A finished directory uploaded again is a no-op answering the ready asset.
  const before = server.received.blobBytes;
  const again = await chronicle
    .run("resume", "v", 0)
    .uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker }).done;
  expect(again).toEqual(resumed);
  expect(server.received.blobBytes).toBe(before);
  expect((await chronicle.run("resume", "v", 0).listOutputs().all()).map((a) => a.id)).toEqual([asset.id]);
  tracker.close();
});

test("resumePending picks up every unfinished upload of a tracker", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN });
  await chronicle.createExperiment({ id: "resume-all" });
  await chronicle.run("resume-all", "v", 0).start();
  const dir = await mkdtemp(join(tmpdir(), "methodic-resume-all-"));
  await writeFile(join(dir, "w.bin"), randomBytes(MiB));
  const [file] = await listFiles(dir);
  const { sha256 } = await hashFile(file!.absolute, file!.size, MiB);
  // A process that created its asset and crashed before sending anything leaves this behind.
  const created = await fetch(`${server.url}/v1/experiments/resume-all/variations/v/runs/0/assets`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ asset_type: "checkpoint", components: [{ path: "w.bin", size: MiB, sha256 }] }),
  });
  const { asset } = (await created.json()) as { asset: { id: string } };
  const tracker = new UploadTracker({ dbPath: join(dir, "..", `${dir.split("/").pop()}.sqlite`) });
  tracker.save({
    baseUrl: chronicle.baseUrl,
    directory: dir,
    experimentId: "resume-all",
    variation: "v",
    run: 0,
    assetId: asset.id,
    asset: { asset_type: "checkpoint" },
    idempotencyKey: "crashed",
    files: [{ path: "w.bin", size: MiB, mtimeMs: file!.mtimeMs, sha256 }],
    done: false,
    pieces: [],
  });

  const uploads = tracker.resumePending(chronicle);
  expect(uploads).toHaveLength(1);
  const ready = await uploads[0]!.done;
  expect(ready).toMatchObject({ id: asset.id, state: "ready" });
  expect(tracker.pending()).toEqual([]);
  expect(tracker.resumePending(chronicle)).toEqual([]);
  tracker.close();
});

test("a trainer SIGKILLed after a part's PUT, before it reported it, is resumed without that part sent again", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, partSize: PART });
  await chronicle.createExperiment({ id: "resume-unreported" });
  await chronicle.run("resume-unreported", "v", 0).start();
  const dir = await mkdtemp(join(tmpdir(), "methodic-resume-unreported-"));
  const size = 3 * PART + 7;
  await writeFile(join(dir, "model.bin"), randomBytes(size));
  const [file] = await listFiles(dir);
  const hashes = await hashFile(file!.absolute, file!.size, PART);
  const created = await fetch(`${server.url}/v1/experiments/resume-unreported/variations/v/runs/0/assets`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      asset_type: "checkpoint",
      part_size: PART,
      components: [{ path: "model.bin", size, sha256: hashes.sha256, part_sha256: hashes.partSha256 }],
    }),
  });
  const { asset, upload } = (await created.json()) as {
    asset: { id: string };
    upload: { components: { parts: { url: string; headers?: Record<string, string> }[] }[] };
  };
  const tracker = new UploadTracker({ dbPath: join(dir, "..", `${dir.split("/").pop()}.sqlite`) });
  tracker.save({
    baseUrl: chronicle.baseUrl,
    directory: dir,
    experimentId: "resume-unreported",
    variation: "v",
    run: 0,
    assetId: asset.id,
    asset: { asset_type: "checkpoint" },
    idempotencyKey: "crashed",
    files: [{ path: "model.bin", size, mtimeMs: file!.mtimeMs, sha256: hashes.sha256 }],
    done: false,
    pieces: [],
  });

  // A trainer that PUTs the second part and is killed the moment storage has answered: before it
  // could report the part, or write it in its tracker.
  const part = upload.components[0]!.parts[1]!;
  const trainer = spawnTrainer(
    `import { open } from "node:fs/promises";
     const file = await open(${JSON.stringify(file!.absolute)});
     const bytes = Buffer.alloc(${PART});
     await file.read(bytes, 0, ${PART}, ${PART});
     const res = await fetch(${JSON.stringify(part.url)}, {
       method: "PUT", body: bytes, headers: ${JSON.stringify(part.headers ?? {})},
     });
     if (res.ok) process.kill(process.pid, "SIGKILL");
     console.log("storage answered", res.status, await res.text());`,
    server,
  );
  expect(await trainer.exit, trainer.output()).toEqual({ code: null, signal: "SIGKILL" });

  const before = server.received.blobBytes;
  const resumed = await chronicle
    .run("resume-unreported", "v", 0)
    .uploadDirectoryAsync(dir, { asset_type: "checkpoint", uploadTracker: tracker }).done;
  expect(resumed).toMatchObject({ id: asset.id, state: "ready" });
  // Storage's own record (S3's ListParts, or what the local driver wrote as it received it) had the part.
  expect(server.received.blobBytes - before).toBe(size - PART);
  tracker.close();
});
