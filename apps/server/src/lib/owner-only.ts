import type { Dirent } from "node:fs";
import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

/** Permission bits of the group and of others: nothing in the data dir has any. */
const GROUP_AND_OTHER = 0o077;

/** Makes `dir` (mode 0700) unless it exists. */
export async function makeOwnerOnlyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Takes every permission of the group and of others away from `dir` and everything under it, as a data
 * dir written by an earlier version (or copied with loose modes) may have them. Symbolic links are
 * left as they are, not followed. Answers the paths it changed, and those it could not (not ours).
 */
export async function restrictTree(dir: string): Promise<{ changed: string[]; failed: string[] }> {
  const changed: string[] = [];
  const failed: string[] = [];
  const visit = async (path: string) => {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) return;
    if (stats.mode & GROUP_AND_OTHER) {
      try {
        await chmod(path, stats.mode & 0o7777 & ~GROUP_AND_OTHER);
        changed.push(path);
      } catch {
        failed.push(path);
      }
    }
    if (!stats.isDirectory()) return;
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      failed.push(path);
      return;
    }
    for (const entry of entries) await visit(join(path, entry.name));
  };
  await visit(dir);
  return { changed, failed };
}

interface NodeFsOps {
  node_ops: {
    mknod(parent: unknown, name: string, mode: number, dev: number): unknown;
    setattr(node: unknown, attr: { mode?: number }): void;
  };
  stream_ops: { setattr(stream: unknown, attr: { mode?: number }): void };
}

/**
 * PGlite's Node file system, creating what the database writes for its owner only. Postgres asks for
 * mode 0600 and 0700 itself, but PGlite's emscripten layer sets the modes it is given outright (a
 * chmod after each create, so no umask applies) and it gives 0666 to every file it unpacks from a
 * data dir archive (the seed a new data dir starts from). Every mode this file system sets is masked.
 */
class OwnerOnlyNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS["init"]>[1]) {
    const { emscriptenOpts } = await super.init(pg, opts);
    const restrict = (mod: { NODEFS: unknown }) => {
      const { node_ops, stream_ops } = mod.NODEFS as NodeFsOps;
      const mask = <A extends { mode?: number }>(attr: A): A =>
        attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~GROUP_AND_OTHER };
      const { mknod, setattr } = node_ops;
      const setStreamAttr = stream_ops.setattr;
      node_ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~GROUP_AND_OTHER, dev);
      node_ops.setattr = (node, attr) => setattr(node, mask(attr));
      stream_ops.setattr = (stream, attr) => setStreamAttr(stream, mask(attr));
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), restrict] } };
  }
}

/** The file system for an embedded database in `dataDir`, its folder made 0700 first. */
export async function ownerOnlyPgliteFs(dataDir: string): Promise<NodeFS> {
  await makeOwnerOnlyDir(dataDir);
  return new OwnerOnlyNodeFS(dataDir);
}
