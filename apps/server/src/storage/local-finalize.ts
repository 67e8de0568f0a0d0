import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { eachLimited } from "../lib/each-limited.js";
import { isMultipart, type MissingPiece, piecesOf, type StoredAsset, type StoredComponent } from "../lib/pieces.js";
import type { LocalBlobStore } from "./local.js";
import { concatenated, INCOMING, isMissing, PIECES, sha256Of, sizeOf, syncDir, writeHashed } from "./local-files.js";
import type { Completion, PieceRef, Verdict } from "./types.js";

/** Components checked at once: enough to overlap the file system's waits, few enough to share the disk. */
const CONCURRENCY = 4;

/** What the check found of one component. */
type Checked =
  /** Right: `from` is the file that becomes the component (none: it is in place already, or empty). */
  | { state: "right"; index: number; from?: string; empty?: boolean }
  /** Pieces are missing: `absent` are their part numbers. */
  | { state: "missing"; index: number; missing: MissingPiece; absent: number[] }
  /** Every piece is there, but together they fail the file's SHA-256: `pieces` are their files. */
  | { state: "wrong"; index: number; missing: MissingPiece; pieces: string[] };

/**
 * Finalize on the local disk. The check, before the asset row is locked, reads what has to be read:
 * a single-PUT file is its received piece, hashed against the file's SHA-256 as it arrived; a
 * multipart file is assembled from its parts, in order, into a temporary file, hashed on the way; a
 * file with no pieces counts if its place holds the right bytes already (a finalize that moved them
 * there did not commit). The completion, under the lock, only moves files: nothing of a pending
 * asset's pieces is changed before its row is locked, and a file is put in place only once its
 * bytes matched.
 */
export async function checkFiles(store: LocalBlobStore, asset: StoredAsset): Promise<Completion> {
  const temps: string[] = [];
  const checked = await eachLimited(
    asset.components.map((component, index) => ({ component, index })),
    ({ component, index }) => checkComponent(store, asset, index, component, temps),
    CONCURRENCY,
  );
  return {
    complete: (recorded) => completeFiles(store, asset, checked, recorded),
    release: async (ready) => {
      await eachLimited(temps, (path) => rm(path, { force: true }));
      // Once ready nothing is incoming any more: what a PUT was still sending is refused.
      if (ready) await rm(join(store.dirOf(asset.id), INCOMING), { recursive: true, force: true });
    },
  };
}

async function checkComponent(
  store: LocalBlobStore,
  asset: StoredAsset,
  index: number,
  component: StoredComponent,
  temps: string[],
): Promise<Checked> {
  if (component.size === 0) return { state: "right", index, empty: true };
  const pieces = piecesOf(component, asset.partSize);
  const files = pieces.map((piece) => store.piecePath(asset.id, index, piece.partNumber));
  const sizes = await Promise.all(files.map(sizeOf));
  const absent = pieces.filter((piece, i) => sizes[i] !== piece.size).map((piece) => piece.partNumber);
  const multipart = isMultipart(component, asset.partSize);

  if (absent.length === 0 && !multipart) return { state: "right", index, from: files[0] };
  if (absent.length === 0) {
    const temp = await store.tempFile(asset.id);
    temps.push(temp.path);
    try {
      const { sha256 } = await writeHashed(temp.file, concatenated(files));
      await temp.file.sync();
      if (sha256 === component.sha256) return { state: "right", index, from: temp.path };
      const partNumbers = pieces.map((piece) => piece.partNumber);
      return { state: "wrong", index, missing: { path: component.path, partNumbers }, pieces: files };
    } catch (err) {
      // A part gone since it was seen: the asset was aborted meanwhile (the lock will tell).
      if (!isMissing(err)) throw err;
    } finally {
      await temp.file.close();
    }
  }
  if ((await sha256Of(store.pathOf(asset.id, index), component.size)) === component.sha256) {
    return { state: "right", index };
  }
  return {
    state: "missing",
    index,
    missing: multipart ? { path: component.path, partNumbers: absent } : { path: component.path },
    absent,
  };
}

async function completeFiles(
  store: LocalBlobStore,
  asset: StoredAsset,
  checked: Checked[],
  recorded: PieceRef[],
): Promise<Verdict> {
  const unready = checked.filter((c) => c.state !== "right");
  if (unready.length > 0) {
    const forget: PieceRef[] = [];
    const isRecorded = new Set(recorded.map((piece) => `${piece.partNumber}:${piece.path}`));
    for (const c of unready) {
      const path = c.missing.path;
      if (c.state === "wrong") {
        // Wrong bytes, and no telling which part holds them: every part is sent again.
        await eachLimited(c.pieces, (file) => rm(file, { force: true }));
        forget.push(
          ...piecesOf(asset.components[c.index]!, asset.partSize).map((p) => ({ path, partNumber: p.partNumber })),
        );
        continue;
      }
      // Recorded but not stored (a data dir of an earlier version): planned again once forgotten.
      for (const partNumber of c.absent) {
        if (!isRecorded.has(`${partNumber}:${path}`)) continue;
        if ((await sizeOf(store.piecePath(asset.id, c.index, partNumber))) === undefined)
          forget.push({ path, partNumber });
      }
    }
    return {
      missing: unready.map((c) => c.missing),
      mismatched: unready.filter((c) => c.state === "wrong").map((c) => c.missing.path),
      forget,
    };
  }

  const dir = store.dirOf(asset.id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await eachLimited(checked, async (c) => {
    if (c.state !== "right") return;
    const target = store.pathOf(asset.id, c.index);
    if (c.from) await rename(c.from, target);
    else if (c.empty) await (await open(target, "w", 0o600)).close();
  });
  await syncDir(dir);
  // The pieces are in the components now. Should the transaction not commit, the next finalize finds
  // the components in place and checks them by their SHA-256.
  await rm(join(dir, PIECES), { recursive: true, force: true });
  return { missing: [], mismatched: [], forget: [] };
}
