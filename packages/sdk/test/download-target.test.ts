import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { downloadAsset } from "../src/download.js";
import { RANGE_SIZE } from "../src/download-component.js";
import { ChronicleError, ValidationError } from "../src/index.js";
import {
  assetOf,
  checkpoint,
  countingFetch,
  downloadServer,
  expectFiles,
  interrupted,
  staged,
  tempDir,
} from "./download-fixtures.js";

const ctx = downloadServer();

/** The download refused as a link in the target directory, before any GET. */
async function expectRefused(id: string, dir: string, where: string) {
  const counting = countingFetch();
  const err = await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch }).catch((e) => e);
  expect(err).toBeInstanceOf(ValidationError);
  expect(err).toMatchObject({
    status: 400,
    code: "invalid_request",
    message: expect.stringContaining(`${where} is a symbolic link`),
  });
  expect(counting.calls).toEqual([]);
}

describe("downloadAsset into a directory that already holds things", () => {
  test("a symbolic link where a component's file goes is refused, and its target left alone", async () => {
    const id = await assetOf(ctx.server.url, "dl-link-file", checkpoint());
    const dir = await tempDir();
    const outside = await tempDir();
    await writeFile(join(outside, "theirs"), "not the model");
    await symlink(join(outside, "theirs"), join(dir, "model.bin"));

    await expectRefused(id, dir, "model.bin");
    expect(await readFile(join(outside, "theirs"), "utf8")).toBe("not the model");
    expect(await readdir(outside)).toEqual(["theirs"]);
    expect((await lstat(join(dir, "model.bin"))).isSymbolicLink()).toBe(true);
    expect(await readdir(dir)).toEqual(["model.bin"]);
  });

  test("a symbolic link where a component's folder goes is refused, and nothing is written where it points", async () => {
    const id = await assetOf(ctx.server.url, "dl-link-folder", checkpoint());
    const dir = await tempDir();
    const outside = await tempDir();
    await symlink(outside, join(dir, "nested"));

    await expectRefused(id, dir, "nested");
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(dir)).toEqual(["nested"]);
  });

  test("a symbolic link in place of the staging folder, or of a staged file, is refused", async () => {
    const files = checkpoint();
    const id = await assetOf(ctx.server.url, "dl-link-staging", files);
    const outside = await tempDir();
    const dir = await tempDir();
    await symlink(outside, join(dir, ".methodic-download"));
    await expectRefused(id, dir, ".methodic-download");
    expect(await readdir(outside)).toEqual([]);

    // An interrupted download's staged file swapped for a link to a file outside.
    const other = await tempDir();
    const [partial] = await interrupted(ctx.chronicle, id, other, "model.bin");
    await writeFile(join(outside, "theirs"), "not the model");
    await rm(partial!);
    await symlink(join(outside, "theirs"), partial!);
    const err = await downloadAsset(ctx.chronicle.transport, id, other).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: "invalid_request", message: expect.stringContaining("is a symbolic link") });
    expect(await readFile(join(outside, "theirs"), "utf8")).toBe("not the model");
  });

  test("an asset with both x and x.partial gets both, byte for byte", async () => {
    const files = new Map([
      ["weights", randomBytes(2 * 1024 * 1024 + 5)],
      ["weights.partial", randomBytes(1024 * 1024 + 3)],
      ["sub/x", randomBytes(1000)],
      ["sub/x.partial", randomBytes(2000)],
    ]);
    const id = await assetOf(ctx.server.url, "dl-look-alike", files);
    const dir = await tempDir();
    const result = await downloadAsset(ctx.chronicle.transport, id, dir);
    expect(result.map((f) => f.path).sort()).toEqual([...files.keys()].sort());
    await expectFiles(dir, files);
    expect((await readdir(dir)).sort()).toEqual(["sub", "weights", "weights.partial"]);

    // Again: every file is kept as it is.
    const again = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: again.fetch });
    expect(again.calls).toEqual([]);
    await expectFiles(dir, files);
  });

  test("a folder where a component's file goes is refused before anything is fetched", async () => {
    const id = await assetOf(ctx.server.url, "dl-folder-file", checkpoint());
    const dir = await tempDir();
    await mkdir(join(dir, "model.bin"));
    const counting = countingFetch();
    const err = await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch }).catch((e) => e);
    expect(err).toMatchObject({ status: 400, message: expect.stringContaining("model.bin is a folder") });
    expect(counting.calls).toEqual([]);
  });
});

describe("downloadAsset of a file fetched in ranges (and hashed on a worker thread)", () => {
  const large = (size = RANGE_SIZE + 4 * 1024 * 1024 + 11) => new Map([["weights.bin", randomBytes(size)]]);

  test("an interrupted download resumes from the prefix it wrote, every range after it asked once", async () => {
    const files = large();
    const size = files.get("weights.bin")!.length;
    const id = await assetOf(ctx.server.url, "dl-large-resume", files);
    const dir = await tempDir();
    const [partial] = await interrupted(ctx.chronicle, id, dir, "weights.bin", 4 * 1024 * 1024);
    const kept = (await stat(partial!)).size;
    expect(kept).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(kept).toBeLessThan(RANGE_SIZE);

    const counting = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch });
    expect(counting.calls.map((c) => c.range).sort()).toEqual([
      `bytes=${RANGE_SIZE}-${size - 1}`,
      `bytes=${kept}-${RANGE_SIZE - 1}`,
    ]);
    await expectFiles(dir, files);
  });

  test("ranges interrupted out of order are resumed into the right bytes", async () => {
    // Two ranges: under the server's 64 MiB part size, so one PUT uploads it.
    const files = large(2 * RANGE_SIZE - 5);
    const id = await assetOf(ctx.server.url, "dl-large-order", files);
    const dir = await tempDir();
    await interrupted(ctx.chronicle, id, dir, "weights.bin", RANGE_SIZE + 1, 4);
    const counting = countingFetch();
    await downloadAsset(ctx.chronicle.transport, id, dir, { fetch: counting.fetch });
    expect(counting.calls.length).toBeGreaterThan(0);
    await expectFiles(dir, files);
  });

  test("a staged prefix with wrong bytes fails the sha256 check and is not kept", async () => {
    const files = large();
    const id = await assetOf(ctx.server.url, "dl-large-corrupt", files);
    const dir = await tempDir();
    const [partial] = await interrupted(ctx.chronicle, id, dir, "weights.bin", 4 * 1024 * 1024);
    await writeFile(partial!, randomBytes((await stat(partial!)).size));
    await expectCorrupt(id, dir, files);
  });

  test("a resume record that claims bytes never written fails the sha256 check and is not kept", async () => {
    const files = large();
    const id = await assetOf(ctx.server.url, "dl-large-claim", files);
    const dir = await tempDir();
    const [partial] = await interrupted(ctx.chronicle, id, dir, "weights.bin", 4 * 1024 * 1024);
    // A file of the full length with a hole after what was written, and a record that claims it all.
    const size = files.get("weights.bin")!.length;
    await truncate(partial!, size);
    await writeFile(partial!.replace(/\.partial$/, ".resume"), String(size).padStart(20, "0"));
    await expectCorrupt(id, dir, files);
  });
});

/** The download fails its sha256 check, keeps nothing, and the next call starts afresh and succeeds. */
async function expectCorrupt(id: string, dir: string, files: Map<string, Buffer>) {
  const err = await downloadAsset(ctx.chronicle.transport, id, dir).catch((e) => e);
  expect(err).toBeInstanceOf(ChronicleError);
  expect(err).toMatchObject({ code: "internal", message: expect.stringContaining("sha256") });
  expect(await readdir(dir)).not.toContain("weights.bin");
  expect(await staged(dir, id)).toEqual([]);
  await downloadAsset(ctx.chronicle.transport, id, dir);
  await expectFiles(dir, files);
}
