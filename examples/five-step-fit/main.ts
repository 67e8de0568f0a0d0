/**
 * The smallest honest trainer: fit y = 3x - 1 by gradient descent in five steps, recorded in Chronicle
 * as one run with its environment, its config, a checkpoint per step (uploaded in the background) and
 * a final summary.
 *
 *   pnpm --filter @methodic/examples five-step-fit
 *
 * The server and token come from METHODIC_URL / METHODIC_TOKEN or the credentials file (see README).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Chronicle, collectEnvironment } from "@methodic/sdk";
import { UploadTracker } from "@methodic/sdk/upload-tracker";
import { createExperiment, outDir } from "../shared/setup.js";

const config = { learning_rate: 0.5, steps: 5, points: 64 };

const chronicle = new Chronicle();
const experimentId = await createExperiment(chronicle, "five-step-fit", {
  description: "y = 3x - 1 by full-batch gradient descent",
});
const out = await outDir(experimentId);
const run = chronicle.run(experimentId, `lr-${config.learning_rate}`, 0);
await run.start();

await run.uploadEnvironment({ ...collectEnvironment(), trainer: { framework: "plain TypeScript" } });
await run.uploadAsset({ asset_type: "trainer_config", content: config, asset_config: { schema_version: 1 } });

const xs = Array.from({ length: config.points }, (_, i) => i / config.points);
const ys = xs.map((x) => 3 * x - 1);
let w = 0;
let b = 0;
let loss = Number.NaN;

const tracker = new UploadTracker({ dbPath: join(out, "uploads.sqlite") });
try {
  for (let step = 1; step <= config.steps; step++) {
    // Mean squared error and its gradient over the whole batch.
    let gw = 0;
    let gb = 0;
    loss = 0;
    xs.forEach((x, i) => {
      const error = w * x + b - (ys[i] as number);
      loss += error * error;
      gw += 2 * error * x;
      gb += 2 * error;
    });
    loss /= xs.length;
    w -= (config.learning_rate * gw) / xs.length;
    b -= (config.learning_rate * gb) / xs.length;

    const checkpoint = join(out, `checkpoint-${step}`);
    await mkdir(checkpoint, { recursive: true });
    await writeFile(join(checkpoint, "state.json"), JSON.stringify({ step, w, b }));
    // Returns at once; the upload drains in the background while training goes on.
    run.uploadDirectoryAsync(checkpoint, {
      asset_type: "checkpoint",
      name: `checkpoint-${step}`,
      asset_config: { step },
      uploadTracker: tracker,
    });
    console.log(`step ${step}: loss ${loss.toFixed(4)}, w ${w.toFixed(3)}, b ${b.toFixed(3)}`);
  }
  // Waits for every checkpoint upload, then marks the run succeeded.
  await run.succeed({ loss, w, b });
} catch (err) {
  await run.fail(err as Error);
  throw err;
} finally {
  tracker.close();
}

console.log(`\nrun ${experimentId}/${run.variation}/${run.index} succeeded; its outputs, newest first:`);
for await (const asset of run.listOutputs()) {
  console.log(`  ${asset.asset_type.padEnd(15)} ${(asset.name ?? "").padEnd(13)} ${asset.state}  ${asset.id}`);
}
