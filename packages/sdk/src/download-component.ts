import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { ErrorBody } from "@methodic/contract";
import { ChronicleError, errorFor, UnavailableError } from "./errors.js";
import type { HashedFile, HashedFiles } from "./hashed-file.js";
import { ATTEMPTS, RetryNow, withRetries } from "./retry.js";
import type { TargetDir } from "./target-dir.js";

/** One file of the asset, where it goes and where it comes from. */
export interface Target {
  path: string;
  size: number;
  sha256: string;
  /** The absolute path written. */
  file: string;
  url: string;
}

export interface Context {
  fetch: typeof fetch;
  signal: AbortSignal | undefined;
  dir: TargetDir;
  files: HashedFiles;
  /** A fresh URL for the path (URLs expire), asked of the API once for the whole download. */
  refresh: (path: string) => Promise<string>;
  progress: (path: string, bytes: number) => void;
}

/**
 * A file larger than this is fetched in ranges of this size, several at once (the download's
 * concurrency counts ranges in flight): one stream alone cannot keep up with several, and a
 * checkpoint is mostly one large file. Each range is a request, which costs client and storage
 * CPU: 16 MiB ranges cost more of both than 32 or 64 MiB ones for 2 GiB (measured); a download
 * stopped by a kill fetches again at most the ranges in flight, 4 × 32 MiB by default.
 */
export const RANGE_SIZE = 32 * 1024 * 1024;

/** Bytes gathered from a body before each write to the file. */
const WRITE_SIZE = 1024 * 1024;

/** The digits of the resume point in a ranged file's `.resume` file: a fixed width, rewritten in place. */
const RESUME_DIGITS = 20;

/** One range of a file: [start, end), of which `written` bytes from `start` are on disk. */
export interface Range {
  start: number;
  end: number;
  written: number;
  /** Handed to a fetch already (a range is taken once; its retries stay with it). */
  taken: boolean;
}

/**
 * A file being fetched into its staged file: one range, or for a large file many, written at their
 * offsets as they arrive and hashed in order as its prefix fills.
 *
 * Resume: a file fetched in one range is written in order, so the staged file's length is what it
 * holds. A ranged file's ranges land in any order: the length of its prefix known to be written is
 * kept in a `.resume` file beside it, rewritten as each range is done and when the download stops,
 * and anything after that prefix is fetched again. The sha256 check at the end covers both.
 */
export class ComponentDownload {
  private url: string;
  private refreshing: Promise<void> | undefined;
  /** Bytes from 0 known to be on disk, made known to the hash. */
  private prefix = 0;
  private resumeWrites: Promise<unknown> = Promise.resolve();
  private corrupt = false;
  private ended = false;
  private finishing: Promise<void> | undefined;

  private constructor(
    readonly target: Target,
    private readonly ctx: Context,
    private readonly handle: FileHandle,
    private readonly resume: FileHandle | undefined,
    private file: HashedFile,
    readonly ranges: Range[],
  ) {
    this.url = target.url;
  }

  /** Opens the staged file and takes up what an interrupted download left in it. */
  static async start(target: Target, ctx: Context): Promise<ComponentDownload> {
    const { size, path } = target;
    const handle = await ctx.dir.openPartial(path);
    let resume: FileHandle | undefined;
    try {
      const ranged = size > RANGE_SIZE;
      resume = ranged ? await ctx.dir.open(ctx.dir.resumeOf(path), constants.O_RDWR | constants.O_CREAT) : undefined;
      let kept = (await handle.stat()).size;
      if (kept > size) {
        await handle.truncate(0);
        kept = 0;
      }
      if (resume) kept = Math.min(kept, await readResume(resume));
      const ranges: Range[] = [];
      for (let start = 0; start < size; start += ranged ? RANGE_SIZE : size) {
        const end = ranged ? Math.min(start + RANGE_SIZE, size) : size;
        const written = Math.max(0, Math.min(kept, end) - start);
        ranges.push({ start, end, written, taken: written === end - start });
      }
      const download = new ComponentDownload(target, ctx, handle, resume, ctx.files.start(handle), ranges);
      download.advance();
      return download;
    } catch (err) {
      await resume?.close();
      await handle.close();
      throw err;
    }
  }

  /** The next range to fetch, if any is left. */
  take(): Range | undefined {
    const range = this.ranges.find((r) => !r.taken);
    if (range) range.taken = true;
    return range;
  }

  /** Whether every range is on disk (then `finish` places the file). */
  get complete(): boolean {
    return this.ranges.every((r) => r.written === r.end - r.start);
  }

  /** One range fetched, with retries; a failure is the download's. */
  async fetch(range: Range): Promise<void> {
    try {
      await withRetries(() => this.attempt(range), { attempts: ATTEMPTS, signal: this.ctx.signal });
    } catch (err) {
      // Bytes that do not fit what storage holds are not resumed: the next call starts afresh.
      if (err instanceof ChronicleError && err.code === "internal") this.corrupt = true;
      throw err;
    }
  }

  /**
   * Once every range is on disk: fsynced, checked against the asset's size and sha256, renamed into
   * place. Anything else is a corrupt download, not resumed.
   */
  finish(): Promise<void> {
    // Two fetches may bring the last two ranges at once: one finish for both.
    this.finishing ??= this.place();
    return this.finishing;
  }

  private async place(): Promise<void> {
    const { target } = this;
    await this.handle.sync();
    const { size } = await this.handle.stat();
    const sha256 = await this.file.digest();
    if (size !== target.size || sha256 !== target.sha256) {
      this.corrupt = true;
      throw corrupt(
        target,
        size !== target.size
          ? `${size} bytes were received, not ${target.size}`
          : `its sha256 is ${sha256}, not ${target.sha256}`,
      );
    }
    await this.ctx.dir.place(this.handle, this.ctx.dir.partialOf(target.path), target.path);
    await this.end();
    await this.ctx.dir.drop(this.ctx.dir.resumeOf(target.path));
  }

  /**
   * The download stopped (a failure, an abort): what is on disk stays staged for the next call, its
   * prefix recorded, unless it was corrupt.
   */
  async abandon(): Promise<void> {
    if (this.ended) return;
    if (!this.corrupt) this.recordResume();
    await this.end();
    if (this.corrupt) {
      await this.ctx.dir.drop(this.ctx.dir.partialOf(this.target.path));
      await this.ctx.dir.drop(this.ctx.dir.resumeOf(this.target.path));
    }
  }

  private async end(): Promise<void> {
    this.ended = true;
    await this.file.drop();
    await this.resumeWrites;
    await this.resume?.close();
    await this.handle.close();
  }

  /**
   * A range fetched again from its start. The bytes it had may be in the hash already: that hash
   * starts over, from the file, so that what is hashed is what ends up on disk.
   */
  private async restart(range: Range): Promise<void> {
    if (this.ranges.length === 1) await this.handle.truncate(0);
    range.written = 0;
    if (range.start < this.prefix) {
      await this.file.drop();
      this.file = this.ctx.files.start(this.handle);
      this.prefix = 0;
    }
    this.advance();
  }

  /** The prefix on disk grown: to the hash, and to progress. */
  private advance(): void {
    let prefix = 0;
    for (const r of this.ranges) {
      prefix = r.start + r.written;
      if (r.written < r.end - r.start) break;
    }
    if (prefix > this.prefix) {
      this.prefix = prefix;
      this.file.upTo(prefix);
    }
    this.ctx.progress(
      this.target.path,
      this.ranges.reduce((sum, r) => sum + r.written, 0),
    );
  }

  /** The prefix known to be on disk into the `.resume` file, the writes one after another. */
  private recordResume(): void {
    const resume = this.resume;
    if (!resume) return;
    this.resumeWrites = this.resumeWrites.then(() =>
      resume.write(String(this.prefix).padStart(RESUME_DIGITS, "0"), 0, "ascii").catch(() => {}),
    );
  }

  private async attempt(range: Range): Promise<void> {
    const { ctx, target } = this;
    const { path } = target;
    const ranged = this.ranges.length > 1;
    ctx.signal?.throwIfAborted();
    const from = range.start + range.written;
    if (from === range.end) return;
    const url = this.url;
    let res: Response;
    try {
      res = await ctx.fetch(url, {
        ...((ranged || from > 0) && { headers: { range: `bytes=${from}-${ranged ? range.end - 1 : ""}` } }),
        ...(ctx.signal && { signal: ctx.signal }),
      });
    } catch (err) {
      throw networkError(path, err, ctx.signal);
    }
    if (res.status === 403) {
      // URLs expire: fresh ones once, asked by the first range refused; every range then retries
      // with them, and a refusal of the fresh URL is the answer.
      const first = this.refreshing === undefined;
      this.refreshing ??= ctx.refresh(path).then((fresh) => {
        this.url = fresh;
      });
      await this.refreshing;
      if (first || url !== this.url) {
        await res.body?.cancel();
        throw new RetryNow(new ChronicleError(403, "forbidden", `Storage refused the URL of ${path}.`));
      }
    }
    const resumed = res.status === 206;
    if ((resumed && rangeStart(res.headers.get("content-range")) !== from) || (res.status === 416 && from > 0)) {
      // Not the range asked for, or the staged bytes do not fit what storage holds: this range
      // starts over rather than splice in the wrong bytes.
      await res.body?.cancel();
      await this.restart(range);
      throw new RetryNow(new ChronicleError(res.status, "internal", `Storage refused every range of ${path}.`));
    }
    if (res.status === 200 && ranged) {
      await res.body?.cancel();
      throw new ChronicleError(0, "internal", `Storage answered the whole of ${path} to a request for a range of it.`);
    }
    if (res.status !== 200 && !resumed) throw await storageError(path, res);
    // 200 is the whole file: whatever was kept is dropped.
    if (!resumed && from > 0) await this.restart(range);
    await this.receive(res, range);
  }

  /**
   * Writes the answer's body into the range, in batches of about 1 MiB, at their offsets. A body
   * that breaks off is an UnavailableError (retried from what was written); more bytes than the
   * range has is a corrupt download.
   */
  private async receive(res: Response, range: Range): Promise<void> {
    const { ctx, target } = this;
    // fetch hands the body over in chunks of a few KiB to 64 KiB: they are gathered into writes of
    // 1 MiB (a write and its trip to the thread pool cost more than the copy), in one buffer per
    // range, reused, so that no buffer is allocated for each write (nor collected after).
    let buffer: Buffer = Buffer.allocUnsafeSlow(WRITE_SIZE);
    let filled = 0;
    const flush = async () => {
      if (filled === 0) return;
      buffer = await this.file.write(buffer, filled, range.start + range.written);
      range.written += filled;
      filled = 0;
      this.advance();
      if (range.written === range.end - range.start) this.recordResume();
    };
    const body = res.body;
    if (!body) return;
    const reader = body.getReader();
    let finished = false;
    // A read can wait forever once the request is aborted with the whole body already in hand: the
    // abort cancels the reader, so the read ends.
    const cancel = () => reader.cancel(ctx.signal?.reason).catch(() => {});
    ctx.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for (;;) {
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (err) {
          if (ctx.signal?.aborted) throw ctx.signal.reason ?? err;
          // What arrived before the break is good: onto the disk with it, so that the retry resumes
          // after it.
          await flush();
          throw networkError(target.path, err, ctx.signal);
        }
        const { done, value } = step;
        if (value && range.written + filled + value.length > range.end - range.start) {
          this.corrupt = true;
          throw corrupt(target, `storage sent more than the ${range.end - range.start} bytes asked for`);
        }
        for (let at = 0; value && at < value.length; ) {
          const take = Math.min(value.length - at, WRITE_SIZE - filled);
          buffer.set(value.subarray(at, at + take), filled);
          filled += take;
          at += take;
          if (filled === WRITE_SIZE) await flush();
        }
        if (done) await flush();
        if (done) {
          finished = true;
          ctx.signal?.throwIfAborted();
          return;
        }
      }
    } finally {
      ctx.signal?.removeEventListener("abort", cancel);
      // Left early (a failed write, an abort, a corrupt body): the rest of the answer is not wanted.
      if (!finished) reader.cancel().catch(() => {});
    }
  }
}

/** Whether the file already in place has the component's bytes (a repeated download keeps it). */
export async function alreadyThere(target: Target, ctx: Context): Promise<boolean> {
  const handle = await ctx.dir.open(target.path, constants.O_RDONLY);
  const file = ctx.files.start(handle);
  try {
    if ((await handle.stat()).size !== target.size) return false;
    file.upTo(target.size);
    return (await file.digest()) === target.sha256;
  } finally {
    await file.drop();
    await handle.close();
  }
}

async function readResume(resume: FileHandle): Promise<number> {
  const { buffer, bytesRead } = await resume.read(Buffer.alloc(RESUME_DIGITS), 0, RESUME_DIGITS, 0);
  const text = buffer.toString("ascii", 0, bytesRead);
  // Anything but the digits written (a first start, a torn write) resumes nothing.
  return /^\d{20}$/.test(text) ? Number(text) : 0;
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
