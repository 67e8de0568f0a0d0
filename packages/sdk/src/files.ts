import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export interface LocalFile {
  /** The component path: relative, POSIX separators. */
  path: string;
  absolute: string;
  size: number;
  mtimeMs: number;
}

/** Every regular file under `dir`, by path. Symbolic links and special files are left out. */
export async function listFiles(dir: string): Promise<LocalFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: LocalFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    // parentPath is Node 20.12's name for what older releases call path.
    const parent = entry.parentPath ?? (entry as { path?: string }).path ?? dir;
    const absolute = join(parent, entry.name);
    const info = await stat(absolute);
    files.push({
      path: relative(dir, absolute).split(sep).join("/"),
      absolute,
      size: info.size,
      mtimeMs: info.mtimeMs,
    });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Throws when a file is no longer what was hashed: its bytes would not match the manifest. */
export async function assertUnchanged(file: LocalFile): Promise<void> {
  const now = await stat(file.absolute).catch(() => undefined);
  if (!now || now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
    throw new Error(
      `${file.path} changed while it was being uploaded; its bytes would no longer match its sha256. ` +
        "Write checkpoints to a fresh directory and upload it once complete.",
    );
  }
}

/** Runs `work` on every item, `limit` at a time; the first failure rejects, after the rest settle. */
export async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
