import { lstat, mkdir } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep, win32 } from "node:path";
import { type Download, routes } from "@methodic/contract";
import { alreadyThere, ComponentDownload, type Context, type Range, type Target } from "./download-component.js";
import { ChronicleError, ValidationError } from "./errors.js";
import { eachLimited } from "./files.js";
import { hashedFilesFor } from "./hashed-file.js";
import { STAGING, TargetDir } from "./target-dir.js";
import type { Transport } from "./transport.js";

/** Bytes written so far of the whole asset (kept and resumed files included), and the file that advanced. */
export interface DownloadProgress {
  path: string;
  bytes: number;
  totalBytes: number;
}

export interface DownloadOptions {
  /** Requests in flight at once (files, and ranges of a file larger than 32 MiB); 4 unless given. */
  concurrency?: number;
  /**
   * Stops the download; what was received stays in the target's hidden `.methodic-download` folder
   * and is resumed by the next call.
   */
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** For the component GETs (the API calls go through the transport). */
  fetch?: typeof fetch;
}

export interface DownloadedFile {
  path: string;
  size: number;
  sha256: string;
  /** The absolute path written. */
  file: string;
}

/**
 * Every file of a ready asset into `targetDir`, byte for byte: each streamed to a file of its own in
 * `<targetDir>/.methodic-download/<asset id>/` (a large one in ranges fetched at once, written at
 * their offsets), hashed as it is written, verified against its size and sha256, then renamed into
 * place. A file already there with the right bytes is kept; what an interrupted download left
 * staged is resumed. Nothing is written through a symbolic link inside `targetDir`: a link where a
 * file or folder of the asset goes is refused.
 */
export async function downloadAsset(
  transport: Transport,
  assetId: string,
  targetDir: string,
  options: DownloadOptions = {},
): Promise<DownloadedFile[]> {
  const root = resolve(targetDir);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const ask = async () => targetsOf(root, await transport.call(routes.downloadAsset, { params: { id: assetId } }));
  const targets = await ask();
  const dir = new TargetDir(root, assetId);
  // Every place checked before anything is written, the staged files' included.
  for (const target of targets) {
    await dir.check(target.path);
    await dir.check(dir.partialOf(target.path));
    await dir.check(dir.resumeOf(target.path));
  }
  await mkdir(root, { recursive: true });

  // URLs expire: a 403 asks the API for fresh ones, once for the whole download.
  let fresh: Promise<Map<string, Target>> | undefined;
  const refresh = async (path: string): Promise<string> => {
    fresh ??= ask().then((list) => new Map(list.map((t) => [t.path, t])));
    const target = (await fresh).get(path);
    if (!target) throw new ChronicleError(0, "internal", `The asset's fresh download URLs no longer include ${path}.`);
    return target.url;
  };

  const totalBytes = targets.reduce((sum, t) => sum + t.size, 0);
  const done = new Map<string, number>();
  let bytes = 0;
  const progress = (path: string, now: number) => {
    bytes += now - (done.get(path) ?? 0);
    done.set(path, now);
    options.onProgress?.({ path, bytes, totalBytes });
  };

  const files = hashedFilesFor(totalBytes);
  const ctx: Context = { fetch: fetchFn, signal: options.signal, dir, files, refresh, progress };
  try {
    const concurrency = Math.max(1, options.concurrency ?? 4);
    // A file already there with the right bytes is kept: first, so that only the rest is fetched.
    const kept = new Set<Target>();
    await eachLimited(targets, concurrency, async (target) => {
      ctx.signal?.throwIfAborted();
      const info = await lstat(target.file).catch(() => undefined);
      if (info?.isFile() && info.size === target.size && (await alreadyThere(target, ctx))) {
        kept.add(target);
        await dir.drop(dir.partialOf(target.path));
        await dir.drop(dir.resumeOf(target.path));
        progress(target.path, target.size);
      }
    });
    await fetchAll(
      targets.filter((t) => !kept.has(t)),
      concurrency,
      ctx,
    );
  } finally {
    await files.close();
  }
  await dir.tidy();
  return targets.map(({ path, size, sha256, file }) => ({ path, size, sha256, file }));
}

/**
 * The plan's components, each with the file it goes to. Refused: a path that could land outside
 * `root`, one in the staging folder, one twice, one that is another's folder.
 */
function targetsOf(root: string, plan: Download): Target[] {
  const seen = new Set<string>();
  const folders = new Set(
    plan.components.flatMap((c) =>
      c.path
        .split("/")
        .slice(0, -1)
        .map((_, i, s) => s.slice(0, i + 1).join("/")),
    ),
  );
  return plan.components.map((c) => {
    const segments = c.path.split("/");
    if (segments[0] === STAGING || folders.has(c.path)) {
      throw new ValidationError(
        400,
        "invalid_request",
        segments[0] === STAGING
          ? `The asset's component path ${JSON.stringify(c.path)} is inside ${STAGING}, the folder downloads are staged in: refusing to write it.`
          : `The asset's component path ${JSON.stringify(c.path)} is both a file and the folder of another: refusing to write it.`,
      );
    }
    const file = resolve(root, ...segments);
    const inside = relative(root, file);
    if (
      c.path.includes("\\") ||
      c.path.includes("\0") ||
      isAbsolute(c.path) ||
      win32.isAbsolute(c.path) ||
      segments.some((s) => s === "" || s === "." || s === "..") ||
      !inside ||
      inside === ".." ||
      inside.startsWith(`..${sep}`) ||
      isAbsolute(inside)
    ) {
      throw new ValidationError(
        400,
        "invalid_request",
        `The asset's component path ${JSON.stringify(c.path)} is not a relative path inside ${root}: refusing to write it.`,
      );
    }
    if (seen.has(file)) {
      throw new ValidationError(400, "invalid_request", `The asset names ${JSON.stringify(c.path)} twice.`);
    }
    seen.add(file);
    return { path: c.path, size: c.size, sha256: c.sha256, url: c.url, file };
  });
}

/**
 * The files' ranges, `concurrency` requests in flight, taken in the plan's order: each file is
 * opened as its first range is taken, and placed by whichever fetch brings its last range. The
 * first failure stops the taking; once the fetches in flight settle, every file not placed is
 * left staged for the next call, and the failure thrown.
 */
async function fetchAll(targets: Target[], concurrency: number, ctx: Context): Promise<void> {
  const started: ComponentDownload[] = [];
  const waiting = targets.values();
  let current: ComponentDownload | undefined;
  let failure: { error: unknown } | undefined;

  const next = async (): Promise<[ComponentDownload, Range | undefined] | undefined> => {
    for (;;) {
      const range = current?.take();
      if (current && range) return [current, range];
      const target = waiting.next();
      if (target.done) return undefined;
      ctx.signal?.throwIfAborted();
      current = await ComponentDownload.start(target.value, ctx);
      started.push(current);
      // Nothing left to fetch (an empty file, or one staged whole): placed at once.
      if (current.complete) return [current, undefined];
    }
  };
  // One taker at a time: a file is opened once, its ranges handed out once.
  let taking: Promise<unknown> = Promise.resolve();
  const take = () => {
    const taken = taking.then(next);
    taking = taken.catch(() => {});
    return taken;
  };
  const worker = async () => {
    while (!failure) {
      try {
        const item = await take();
        if (!item) return;
        const [download, range] = item;
        if (range) await download.fetch(range);
        if (download.complete) {
          await download.finish();
          const at = started.indexOf(download);
          if (at >= 0) started.splice(at, 1);
        }
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const download of started) await download.abandon();
  if (failure) throw failure.error;
}
