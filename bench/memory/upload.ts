// The SDK process under measurement: a trainer's view of one checkpoint upload. Starts a run, tells
// the parent it is about to upload ("started"), uploads the directory with uploadDirectoryAsync, and
// tells the outcome ("done"). It then stays alive until stdin closes, so that the parent can read its
// VmHWM, and exits at once if stdin closes earlier (the bench gave up).
import { Chronicle } from "@methodic/sdk";
import { type JsMemory, listen, tell, watchJsMemory } from "../lib/child.js";

export interface UploadOptions {
  url: string;
  token: string;
  directory: string;
  concurrency: number;
}

export type UploadMessage =
  | { event: "started" }
  | { event: "done"; seconds: number; asset: { id: string; state: string; size: number }; js: JsMemory };

const options = JSON.parse(process.argv[2] ?? "{}") as UploadOptions;
const js = watchJsMemory();
listen(
  () => {},
  async () => process.exit(0),
);

const chronicle = new Chronicle({ baseUrl: options.url, token: options.token });
await chronicle.createExperiment({ id: "bench-memory" });
const run = chronicle.run("bench-memory", "upload", 0);
await run.start();

tell({ event: "started" } satisfies UploadMessage);
const started = performance.now();
const upload = run.uploadDirectoryAsync(options.directory, {
  asset_type: "checkpoint",
  concurrency: options.concurrency,
});
const { id } = await upload.done;
const seconds = (performance.now() - started) / 1000;
await run.succeed();

// The server's record, read again, is what counts: ready, and every byte accounted for.
const asset = await chronicle.getAsset(id);
tell({
  event: "done",
  seconds,
  asset: { id: asset.id, state: asset.state, size: asset.size },
  js: js.take(),
} satisfies UploadMessage);
