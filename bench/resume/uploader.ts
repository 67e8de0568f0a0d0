// The uploading process of the resume benchmark: a trainer uploading one checkpoint with an upload
// tracker, and the process that resumes it after the first was killed.
//  - "first": starts the run and uploads the directory with uploadDirectoryAsync and the tracker;
//    tells {event: "created"} once the asset exists (the bench kills it at a random time after that),
//    and {event: "done"} if it gets to the end.
//  - "resume": what the next process does after a crash: tracker.resumePending(chronicle), then tells
//    {event: "done"} with the asset read back from the server.
import { Chronicle, ConflictError } from "@methodic/sdk";
import { UploadTracker } from "@methodic/sdk/upload-tracker";
import { listen, tell } from "../lib/child.js";

export interface UploaderOptions {
  mode: "first" | "resume";
  url: string;
  token: string;
  experiment: string;
  run: number;
  directory: string;
  trackerPath: string;
  concurrency: number;
}

export type UploaderMessage =
  | { event: "created"; assetId: string }
  | {
      event: "done";
      /** Seconds from the asset's creation (first) or the resume's start (resume) to the ready asset. */
      seconds: number;
      /** How many unfinished uploads the tracker had (resume only). */
      resumed?: number;
      asset: { id: string; state: string; size: number };
    };

const options = JSON.parse(process.argv[2] ?? "{}") as UploaderOptions;
listen(
  () => {},
  async () => process.exit(0),
);

const chronicle = new Chronicle({ baseUrl: options.url, token: options.token });
const tracker = new UploadTracker({ dbPath: options.trackerPath });

if (options.mode === "first") {
  await chronicle.createExperiment({ id: options.experiment }).catch((err: unknown) => {
    if (!(err instanceof ConflictError)) throw err;
  });
  const run = chronicle.run(options.experiment, "resume", options.run);
  await run.start();
  const upload = run.uploadDirectoryAsync(options.directory, {
    asset_type: "checkpoint",
    concurrency: options.concurrency,
    uploadTracker: tracker,
  });
  let createdAt = 0;
  // The first progress event comes right after the asset is created (and saved in the tracker).
  upload.once("progress", () => {
    createdAt = performance.now();
    tell({ event: "created", assetId: upload.assetId ?? "" } satisfies UploaderMessage);
  });
  const { id } = await upload.done;
  const seconds = (performance.now() - createdAt) / 1000;
  const asset = await chronicle.getAsset(id);
  tell({ event: "done", seconds, asset: { id, state: asset.state, size: asset.size } } satisfies UploaderMessage);
} else {
  const started = performance.now();
  const uploads = tracker.resumePending(chronicle);
  const [first] = await Promise.all(uploads.map((upload) => upload.done));
  if (!first) throw new Error("the tracker had no unfinished upload to resume");
  const seconds = (performance.now() - started) / 1000;
  const asset = await chronicle.getAsset(first.id);
  tell({
    event: "done",
    seconds,
    resumed: uploads.length,
    asset: { id: asset.id, state: asset.state, size: asset.size },
  } satisfies UploaderMessage);
}
tracker.close();
process.exit(0);
