// An SDK process uploading one checkpoint (see uploader.ts): what a trainer runs, the SDK and nothing
// else that it would not load, so that its RSS is the SDK's.
import { Chronicle, ConflictError } from "@methodic/sdk";
import type { UploadTracker } from "@methodic/sdk/upload-tracker";
import { listen, tell, watchJsMemory } from "./child.js";
import type { UploaderMessage, UploaderOptions } from "./uploader.js";

const options = JSON.parse(process.argv[2] ?? "{}") as UploaderOptions;
const js = options.jsMemory ? watchJsMemory() : undefined;
listen(
  () => {},
  async () => process.exit(0),
);

// The part size as a Chronicle option, so that a resume (the tracker's resumePending) has it too.
const chronicle = new Chronicle({
  baseUrl: options.url,
  token: options.token,
  ...(options.partSize && { partSize: options.partSize }),
});
// Only a tracked upload loads the tracker (and its SQLite).
const tracker: UploadTracker | undefined = options.trackerPath
  ? new (await import("@methodic/sdk/upload-tracker")).UploadTracker({ dbPath: options.trackerPath })
  : undefined;

const done = async (seconds: number, id: string, more: { createdAfter?: number; resumed?: number }) => {
  // The server's record, read again, is what counts: ready, and every byte accounted for.
  const asset = await chronicle.getAsset(id);
  tell({
    event: "done",
    seconds,
    createdAfter: more.createdAfter ?? null,
    resumed: more.resumed ?? null,
    asset: { id: asset.id, state: asset.state, size: asset.size },
    js: js?.take() ?? null,
  } satisfies UploaderMessage);
};

if (options.mode === "upload") {
  await chronicle.createExperiment({ id: options.experiment }).catch((err: unknown) => {
    if (!(err instanceof ConflictError)) throw err;
  });
  const run = chronicle.run(options.experiment, options.variation, options.run);
  await run.start();
  tell({ event: "started" } satisfies UploaderMessage);

  const started = performance.now();
  let createdAfter = Number.NaN;
  const upload = run.uploadDirectoryAsync(options.directory, {
    asset_type: "checkpoint",
    concurrency: options.concurrency,
    ...(tracker && { uploadTracker: tracker }),
  });
  // The first progress event comes right after the asset is created (and saved in the tracker).
  upload.once("progress", () => {
    createdAfter = (performance.now() - started) / 1000;
    tell({ event: "created", assetId: upload.assetId ?? "" } satisfies UploaderMessage);
  });
  const { id } = await upload.done;
  const seconds = (performance.now() - started) / 1000;
  await run.succeed();
  await done(seconds, id, { createdAfter });
} else {
  if (!tracker) throw new Error("a resume needs the tracker's database");
  const started = performance.now();
  const uploads = tracker.resumePending(chronicle);
  const [first] = await Promise.all(uploads.map((upload) => upload.done));
  if (!first) throw new Error("the tracker had no unfinished upload to resume");
  await done((performance.now() - started) / 1000, first.id, { resumed: uploads.length });
}
tracker?.close();
