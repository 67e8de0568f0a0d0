import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep, win32 } from "node:path";
import { pipeline } from "node:stream/promises";
import { type Download, ErrorBody, routes } from "@methodic/contract";
import { ChronicleError, errorFor, UnavailableError, ValidationError } from "./errors.js";
import { eachLimited } from "./files.js";
import { ATTEMPTS, RetryNow, withRetries } from "./retry.js";
import type { Transport } from "./transport.js";

/** Bytes written so far of the whole asset (kept and resumed files included), and the file that advanced. */
export interface DownloadProgress {
  path: string;
  bytes: number;
  totalBytes: number;
}

export interface DownloadOptions {
  /** Components fetched at once; 4 unless given. */
  concurrency?: number;
  /** Stops the download; what was received stays in `.partial` files and is resumed by the next call. */
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

/** Bytes gathered from the body before each write to the file. */
const WRITE_SIZE = 1024 * 1024;

interface Target extends DownloadedFile {
  url: string;
}

/**
 * Every file of a ready asset into `targetDir`, byte for byte: each streamed to `<path>.partial`,
 * hashed as it is written, verified against its size and sha256, then renamed into place. A file
 * already there with the right bytes is kept; a `.partial` left by an interrupted download is resumed.
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

  await eachLimited(targets, Math.max(1, options.concurrency ?? 4), (target) =>
    fetchComponent(target, { fetch: fetchFn, signal: options.signal, refresh, progress }),
  );
  return targets.map(({ path, size, sha256, file }) => ({ path, size, sha256, file }));
}

/** The plan's components, each with the file it goes to; a path that could land outside `root` is refused. */
function targetsOf(root: string, plan: Download): Target[] {
  const seen = new Set<string>();
  return plan.components.map((c) => {
    const segments = c.path.split("/");
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

interface Context {
  fetch: typeof fetch;
  signal: AbortSignal | undefined;
  refresh: (path: string) => Promise<string>;
  progress: (path: string, bytes: number) => void;
}

/** One component to its file: kept if already right, else resumed or fetched, verified, renamed. */
async function fetchComponent(target: Target, ctx: Context): Promise<void> {
  const { path, size, file } = target;
  const partial = `${file}.partial`;
  ctx.signal?.throwIfAborted();
  if ((await sizeOf(file)) === size && (await hashOf(file)).digest("hex") === target.sha256) {
    await rm(partial, { force: true });
    ctx.progress(path, size);
    return;
  }
  await mkdir(dirname(file), { recursive: true });

  let url = target.url;
  let refreshed = false;
  await withRetries(
    async () => {
      ctx.signal?.throwIfAborted();
      let kept = await sizeOf(partial);
      if (kept !== undefined && kept > size) {
        await rm(partial, { force: true });
        kept = undefined;
      }
      const offset = kept ?? 0;
      const hash = offset > 0 ? await hashOf(partial) : createHash("sha256");
      if (offset > 0) ctx.progress(path, offset);
      // The partial file already holds every byte (a crash before the rename): verify it.
      if (kept !== undefined && offset === size) return verifyAndRename(target, partial, hash);

      let res: Response;
      try {
        res = await ctx.fetch(url, {
          ...(offset > 0 && { headers: { range: `bytes=${offset}-` } }),
          ...(ctx.signal && { signal: ctx.signal }),
        });
      } catch (err) {
        throw networkError(path, err, ctx.signal);
      }
      if (res.status === 403 && !refreshed) {
        await res.body?.cancel();
        refreshed = true;
        url = await ctx.refresh(path);
        throw new RetryNow(new ChronicleError(403, "forbidden", `Storage refused the URL of ${path}.`));
      }
      const resumed = res.status === 206;
      if ((resumed && rangeStart(res.headers.get("content-range")) !== offset) || (res.status === 416 && offset > 0)) {
        // Not the range asked for, or the partial file does not fit what storage holds: start over
        // rather than splice in the wrong bytes.
        await res.body?.cancel();
        await rm(partial, { force: true });
        throw new RetryNow(new ChronicleError(res.status, "internal", `Storage refused every range of ${path}.`));
      }
      if (res.status !== 200 && !resumed) throw await storageError(path, res);

      // 200 is the whole file: whatever was kept is dropped.
      const received = resumed ? hash : createHash("sha256");
      try {
        await receive(res, partial, resumed ? offset : 0, received, target, ctx);
      } catch (err) {
        if (err instanceof ChronicleError && err.code === "internal") await rm(partial, { force: true });
        throw err;
      }
      await verifyAndRename(target, partial, received);
    },
    { attempts: ATTEMPTS, signal: ctx.signal },
  );
}

/**
 * Streams the answer's body onto the partial file from `start`, into `hash` as it goes, with
 * backpressure; fsyncs before returning. A body that breaks off is an UnavailableError (retried
 * from what was written); more bytes than the component has is a corrupt download.
 */
async function receive(res: Response, partial: string, start: number, hash: Hash, target: Target, ctx: Context) {
  let written = start;
  const body = res.body;
  // fetch hands the body over in chunks of a few KiB; each write and each trip through the stream
  // machinery costs more than the copy that gathers them into writes of about 1 MiB (a quarter less
  // CPU for the whole download, measured).
  async function* chunks() {
    if (!body) return;
    const reader = body.getReader();
    let batch: Uint8Array[] = [];
    let batched = 0;
    let finished = false;
    // A read can wait forever once the request is aborted with the whole body already in hand: the
    // abort cancels the reader, so the read ends.
    const cancel = () => reader.cancel(ctx.signal?.reason).catch(() => {});
    ctx.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (value) {
          written += value.length;
          if (written > target.size) throw corrupt(target, `storage sent more than its ${target.size} bytes`);
          hash.update(value);
          batch.push(value);
          batched += value.length;
        }
        if (batched >= WRITE_SIZE || (done && batched > 0)) {
          yield Buffer.concat(batch, batched);
          batch = [];
          batched = 0;
          ctx.progress(target.path, written);
        }
        if (done) {
          finished = true;
          ctx.signal?.throwIfAborted();
          return;
        }
      }
    } catch (err) {
      if (err instanceof ChronicleError || ctx.signal?.aborted) throw err;
      // What arrived before the break is good (it is hashed already): onto the disk with it, so
      // that the retry resumes after it.
      if (batched > 0) {
        yield Buffer.concat(batch, batched);
        ctx.progress(target.path, written);
      }
      throw networkError(target.path, err, ctx.signal);
    } finally {
      ctx.signal?.removeEventListener("abort", cancel);
      // Left early (a failed write, an abort, a corrupt body): the rest of the answer is not wanted.
      if (!finished) reader.cancel().catch(() => {});
    }
  }
  await pipeline(chunks(), createWriteStream(partial, { flags: start > 0 ? "a" : "w" }), { signal: ctx.signal });
  // On disk before it is renamed into place (the stream's own `flush` option needs Node 20.10).
  const handle = await open(partial, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Size and sha256 as the asset says, then into place; anything else is removed, never renamed. */
async function verifyAndRename(target: Target, partial: string, hash: Hash): Promise<void> {
  const size = await sizeOf(partial);
  const sha256 = hash.digest("hex");
  if (size !== target.size || sha256 !== target.sha256) {
    await rm(partial, { force: true });
    throw corrupt(
      target,
      size !== target.size
        ? `${size ?? 0} bytes were received, not ${target.size}`
        : `its sha256 is ${sha256}, not ${target.sha256}`,
    );
  }
  await rename(partial, target.file);
}

function corrupt(target: Target, why: string): ChronicleError {
  return new ChronicleError(0, "internal", `The download of ${target.path} is corrupt (${why}); it was not kept.`);
}

function networkError(path: string, err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason ?? err;
  return new UnavailableError(0, "network_error", `Downloading ${path} failed: ${(err as Error).message}`);
}

async function storageError(path: string, res: Response): Promise<ChronicleError> {
  const text = await res.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {}
  const parsed = ErrorBody.safeParse(body);
  const message = parsed.success ? parsed.data.error.message : text.slice(0, 300);
  return errorFor(
    res.status,
    parsed.success ? parsed.data.error.code : res.status >= 500 ? "unavailable" : "invalid_request",
    `Storage refused ${path} (HTTP ${res.status}): ${message}`,
  );
}

/** The first byte of a `Content-Range: bytes first-last/total`, if there is one. */
function rangeStart(header: string | null): number | undefined {
  const match = header?.match(/^bytes (\d+)-\d+\/(?:\d+|\*)$/);
  return match ? Number(match[1]) : undefined;
}

async function sizeOf(file: string): Promise<number | undefined> {
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}

async function hashOf(file: string): Promise<Hash> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash;
}
