/**
 * A trainer that survives its own death. Started on a run index, it:
 *   1. starts the run (idempotent, so a crashed run's index can be started again);
 *   2. resumes the checkpoint uploads a killed predecessor left unfinished, through the tracker;
 *   3. restores the newest ready checkpoint of the variation, from whichever run made it;
 *   4. trains on to `--until`, checkpointing every step in the background, and succeeds.
 * `main.ts` runs it three times, killing the first one mid-upload.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { Chronicle } from "@methodic/sdk";
import { UploadTracker } from "@methodic/sdk/upload-tracker";

const { values: args } = parseArgs({
  options: {
    experiment: { type: "string" },
    run: { type: "string" },
    until: { type: "string" },
    out: { type: "string" },
    "checkpoint-mib": { type: "string", default: "128" },
    concurrency: { type: "string", default: "2" },
  },
});
if (!args.experiment || !args.run || !args.until || !args.out) {
  throw new Error("usage: trainer.ts --experiment ID --run N --until STEP --out DIR [--checkpoint-mib N]");
}
const runIndex = Number(args.run);
const until = Number(args.until);
const out = args.out;
const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

interface State {
  step: number;
  /** The "model": one parameter walking towards 1. */
  theta: number;
}

// Small parts (5 MiB, the least S3 takes), so that a crash costs at most the few parts in flight.
const chronicle = new Chronicle({ partSize: 5 * 1024 * 1024 });
const run = chronicle.run(args.experiment, "base", runIndex);
await run.start();
const tracker = new UploadTracker({ dbPath: join(out, "uploads.sqlite") });

// 2. Whatever a killed process was still uploading goes on from the pieces the server already has.
const resumed = tracker.resumePending(chronicle);
for (const upload of resumed) {
  upload.once("progress", ({ bytesSent, totalBytes }) =>
    console.log(`resuming asset ${upload.assetId}: ${mib(bytesSent)} of ${mib(totalBytes)} MiB already stored`),
  );
}
for (const asset of await Promise.all(resumed.map((upload) => upload.done))) {
  console.log(`resumed ${asset.name} is ready (asset ${asset.id})`);
}

// 3. The newest ready checkpoint across every run of the variation.
let state: State = { step: 0, theta: 0 };
const latest = await run.latestOutput("checkpoint");
if (latest) {
  const dir = join(out, `restore-${runIndex}`);
  await run.downloadAsset(latest.id, dir);
  state = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as State;
  console.log(`restored step ${state.step} from ${latest.name} (asset ${latest.id})`);
}

// 4. Train on, a checkpoint per step.
for (let step = state.step + 1; step <= until; step++) {
  state = { step, theta: state.theta + 0.5 * (1 - state.theta) };
  const checkpoint = join(out, `run-${runIndex}`, `checkpoint-${step}`);
  await saveState(checkpoint, state);
  const upload = run.uploadDirectoryAsync(checkpoint, {
    asset_type: "checkpoint",
    name: `checkpoint-${step}`,
    asset_config: { step },
    uploadTracker: tracker,
    concurrency: Number(args.concurrency),
  });
  let shown = "";
  upload.on("progress", ({ bytesSent, totalBytes }) => {
    const line = `checkpoint-${step} (asset ${upload.assetId}): ${mib(bytesSent)} / ${mib(totalBytes)} MiB`;
    if (line !== shown) console.log(line);
    shown = line;
  });
  console.log(`step ${step}: theta ${state.theta.toFixed(4)}`);
}
await run.succeed({ step: state.step, theta: state.theta });
tracker.close();
console.log(`run ${runIndex} succeeded at step ${state.step}`);

/** The framework-specific part: the state, and a large file standing in for the weights. */
async function saveState(dir: string, value: State): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "state.json"), JSON.stringify(value));
  const weights = createWriteStream(join(dir, "weights.bin"));
  for (let i = 0; i < Number(args["checkpoint-mib"]); i++) {
    if (!weights.write(randomBytes(MiB))) await once(weights, "drain");
  }
  weights.end();
  await finished(weights);
}
