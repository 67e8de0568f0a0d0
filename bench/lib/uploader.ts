// The SDK side of the memory, upload and resume benchmarks: a trainer's process uploading one
// checkpoint directory (uploader-child.ts), started fresh for every upload.
import type { JsMemory } from "./child.js";
import { bundle, Child } from "./children.js";
import { MiB } from "./stats.js";

export interface UploaderOptions {
  url: string;
  token: string;
  experiment: string;
  variation: string;
  run: number;
  directory: string;
  concurrency: number;
  /**
   * The SDK's `partSize`: it hashes each part and sends the part size in its create, so this, not the
   * server's METHODIC_PART_SIZE, is the size of the pieces. The SDK's own (64 MiB) unless given.
   */
  partSize?: number;
  /**
   * "upload" starts the run and uploads the directory with uploadDirectoryAsync; "resume" is what the
   * next process does after a crash: the tracker's resumePending.
   */
  mode: "upload" | "resume";
  /** The upload tracker's database; none, no tracker ("resume" needs one). */
  trackerPath?: string;
  /** Sample the process's JavaScript memory; its peaks come with "done". */
  jsMemory?: boolean;
}

export type UploaderMessage =
  /** The run has started; the upload comes next (the moment to read the SDK's idle RSS). */
  | { event: "started" }
  /** The asset exists (and is in the tracker): its first progress event. */
  | { event: "created"; assetId: string }
  | {
      event: "done";
      /** Seconds from the uploadDirectoryAsync call (or the resume's start) to the finalized asset. */
      seconds: number;
      /** Seconds until the asset existed: listing and hashing every file, then the create call. */
      createdAfter: number | null;
      /** How many unfinished uploads the tracker had ("resume"). */
      resumed: number | null;
      /** The asset as the server has it, read again after the upload. */
      asset: { id: string; state: string; size: number };
      js: JsMemory | null;
    };

export type UploaderDone = Extract<UploaderMessage, { event: "done" }>;

/**
 * A new uploader process. It stays until its stdin closes (`stop()`), so that its VmHWM can be read
 * after "done"; it exits at once if its stdin closes earlier.
 */
export async function startUploader(options: UploaderOptions, name = "uploader"): Promise<Child> {
  const [script] = await bundle(import.meta.url, ["uploader-child.ts"]);
  return new Child(name, script!, [JSON.stringify(options)]);
}

/** Generous: an upload slower than 2 MiB/s is stuck, not slow. */
export const uploadTimeoutMs = (bytes: number): number => Math.max(120_000, (bytes / (2 * MiB)) * 1000);

/** Waits for "done", which must be a ready asset of `totalBytes`. */
export async function uploaded(uploader: Child, totalBytes: number): Promise<UploaderDone> {
  const done = await uploader.until<UploaderMessage, "done">("done", uploadTimeoutMs(totalBytes));
  const { asset } = done;
  if (asset.state !== "ready" || asset.size !== totalBytes) {
    throw new Error(`asset ${asset.id} ended ${asset.state} with ${asset.size} bytes, not ready with ${totalBytes}`);
  }
  return done;
}
