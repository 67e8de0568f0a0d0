import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, rename, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ValidationError } from "./errors.js";

/**
 * The hidden folder inside the target directory where files are written before they are renamed
 * into place: `<target>/.methodic-download/<asset id>/<one file per component>`. Being inside the
 * target keeps the rename on one filesystem; being a folder of its own keeps a partial file's name
 * from ever being a component's (an asset may hold both `x` and `x.partial`). No component path may
 * begin with it.
 */
export const STAGING = ".methodic-download";

/**
 * Where a download writes, made safe against what is already in the target directory: nothing is
 * ever written through a symbolic link below the root (a planted link could point anywhere), every
 * folder created is checked to be a real folder, and every file placed is checked to be the one
 * written. The root itself is the caller's choice and may be a link.
 */
export class TargetDir {
  readonly staging: string;

  constructor(
    readonly root: string,
    assetId: string,
  ) {
    // The id comes from the API (a UUID), but it becomes a path segment: nothing else is taken.
    if (!/^[0-9A-Za-z-]{1,64}$/.test(assetId)) {
      throw new ValidationError(400, "invalid_request", `${JSON.stringify(assetId)} is not an asset id.`);
    }
    this.staging = join(STAGING, assetId);
  }

  /** The staged file of a component: named by a hash of its path, so any path fits one flat folder. */
  partialOf(path: string): string {
    return join(this.staging, `${stagedName(path)}.partial`);
  }

  /** Where the staged file of a component fetched in ranges records how much of it is written. */
  resumeOf(path: string): string {
    return join(this.staging, `${stagedName(path)}.resume`);
  }

  /**
   * Refuses, before anything is written, a place that would lead out of the root: a link (or a file)
   * where a folder of `relativePath` is, or a link, folder or special file where its file goes.
   */
  async check(relativePath: string): Promise<void> {
    const segments = relativePath.split("/");
    let at = this.root;
    for (const [i, segment] of segments.entries()) {
      at = join(at, segment);
      const info = await lstatOf(at);
      if (!info) return;
      refuseUnlessA(i < segments.length - 1 ? "folder" : "file", info, relativePath, segments.slice(0, i + 1));
    }
  }

  /** The folders of `relativePath`'s parent, each created if absent and checked to be a real folder. */
  async makeParents(relativePath: string): Promise<void> {
    const segments = relativePath.split("/").slice(0, -1);
    let at = this.root;
    for (const [i, segment] of segments.entries()) {
      at = join(at, segment);
      await mkdir(at).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
      refuseUnlessA("folder", await lstatOf(at), relativePath, segments.slice(0, i + 1));
    }
  }

  /** A file below the root, opened without following a link at its own name (ELOOP if it is one). */
  async open(relativePath: string, flags: number): Promise<FileHandle> {
    const handle = await open(join(this.root, relativePath), flags | constants.O_NOFOLLOW, 0o644).catch(
      async (err: NodeJS.ErrnoException) => {
        if (err.code !== "ELOOP") throw err;
        refuseUnlessA("file", await lstatOf(join(this.root, relativePath)), relativePath, relativePath.split("/"));
        throw err;
      },
    );
    try {
      refuseUnlessA("file", await handle.stat(), relativePath, relativePath.split("/"));
      return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The staged file of a component, created if absent, for reading and writing at offsets. */
  async openPartial(path: string): Promise<FileHandle> {
    await this.makeParents(`${this.staging}/x`);
    return this.open(this.partialOf(path), constants.O_RDWR | constants.O_CREAT);
  }

  /**
   * The staged file renamed to `relativePath`, then checked to be the very file written (same device
   * and inode as `handle`): a folder swapped for a link between the checks and the rename shows here.
   */
  async place(handle: FileHandle, partial: string, relativePath: string): Promise<void> {
    await this.makeParents(relativePath);
    await this.check(relativePath);
    const written = await handle.stat();
    await rename(join(this.root, partial), join(this.root, relativePath));
    const placed = await lstatOf(join(this.root, relativePath));
    if (!placed?.isFile() || placed.dev !== written.dev || placed.ino !== written.ino) {
      throw new ValidationError(
        400,
        "invalid_request",
        `${relativePath} changed in ${this.root} while it was being written: the file there is not the download.`,
      );
    }
  }

  /** A file below the root, if there, removed (a link itself, never what it points to). */
  async drop(relativePath: string): Promise<void> {
    await unlink(join(this.root, relativePath)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  /** The staging folders removed once empty (another asset's download may still be using the outer one). */
  async tidy(): Promise<void> {
    for (const folder of [this.staging, STAGING]) {
      const removed = await rmdir(join(this.root, folder)).then(
        () => true,
        () => false,
      );
      if (!removed) return;
    }
  }
}

const stagedName = (path: string) => createHash("sha256").update(path).digest("hex").slice(0, 32);

async function lstatOf(path: string): Promise<Stats | undefined> {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
}

function refuseUnlessA(kind: "file" | "folder", info: Stats | undefined, path: string, upTo: string[]): void {
  if (kind === "folder" ? info?.isDirectory() : info?.isFile()) return;
  const what = info?.isSymbolicLink() ? "a symbolic link" : info?.isDirectory() ? "a folder" : "not a regular file";
  throw new ValidationError(
    400,
    "invalid_request",
    `${upTo.join("/")} is ${what} in the target directory, where ${path} needs a ${kind}: refusing to write through it.`,
  );
}
