// The SDK side of the upload benchmark, in a process of its own: what a trainer does to upload one
// checkpoint directory. Starts a run, uploads the directory with uploadDirectoryAsync (which lists,
// hashes, creates the asset, sends the pieces and finalizes), reads the asset back, and tells
// {seconds, asset} on stdout. Exits after it has told, or at once if stdin closes.
import { Chronicle, ConflictError } from "@methodic/sdk";
import { listen, tell } from "../lib/child.js";

export interface SdkUploadOptions {
  url: string;
  token: string;
  experiment: string;
  run: number;
  directory: string;
  concurrency: number;
}

export interface SdkUploadDone {
  seconds: number;
  /** Seconds until the asset existed: listing and hashing every file, then the create call. */
  createdAfter: number;
  asset: { id: string; state: string; size: number };
}

const options = JSON.parse(process.argv[2] ?? "{}") as SdkUploadOptions;
listen(
  () => {},
  async () => process.exit(0),
);

const chronicle = new Chronicle({ baseUrl: options.url, token: options.token });
await chronicle.createExperiment({ id: options.experiment }).catch((err: unknown) => {
  if (!(err instanceof ConflictError)) throw err;
});
const run = chronicle.run(options.experiment, "upload", options.run);
await run.start();

const started = performance.now();
let createdAfter = Number.NaN;
const upload = run.uploadDirectoryAsync(options.directory, {
  asset_type: "checkpoint",
  concurrency: options.concurrency,
});
// The first progress event comes right after the asset is created.
upload.once("progress", () => {
  createdAfter = (performance.now() - started) / 1000;
});
const { id } = await upload.done;
const seconds = (performance.now() - started) / 1000;
await run.succeed();

const asset = await chronicle.getAsset(id);
tell({
  seconds,
  createdAfter,
  asset: { id: asset.id, state: asset.state, size: asset.size },
} satisfies SdkUploadDone);
process.exit(0);
