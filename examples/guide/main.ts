/**
 * The trainer integration guide, block by block, in TypeScript: link W&B, snapshot the environment,
 * store the resolved config, checkpoint in the background, resume a continuation run from the newest
 * checkpoint, list outputs, and branch another variation from a checkpoint linked as its input.
 * W&B and the framework are stand-ins (`stand-ins.ts`); everything Chronicle sees is real.
 *
 *   pnpm --filter @methodic/examples guide
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Chronicle, collectEnvironment } from "@methodic/sdk";
import { UploadTracker } from "@methodic/sdk/upload-tracker";
import { createExperiment, outDir } from "../shared/setup.js";
import { torch, wandb } from "./stand-ins.js";

const chronicle = new Chronicle();
// The experiment names its W&B project, so runs need not repeat it.
const expId = await createExperiment(chronicle, "guide", { wandb_project: "ripple-pde" });
const out = await outDir(expId);
const variation = "lr-3e-4";
const runIdx = 0;
const resolvedConfig = { lr: 3e-4, seed: 1234, batch_size: 32, steps: 4, optimizer: { name: "adamw", eps: 1e-8 } };
type TrainState = { model: Record<string, number[]>; optimizer: Record<string, number[]>; step: number };
const model = new torch.Module();
const optimizer = new torch.Module();

// ── Environment snapshotting ─────────────────────────────────────────────────────────────────
// 1. Link the W&B run: init it first, so that its id exists, then hand the pointer to start().
const run = chronicle.run(expId, variation, runIdx);
const wb = wandb.init({ project: "ripple-pde", config: { lr: 3e-4, seed: 1234 } });
await run.start({
  wandb_run_id: wb.id,
  wandb_entity: wb.entity,
  wandb_project: wb.project,
  wandb_dashboard_url: wb.getUrl(),
});

// 2 and 3. Snapshot the environment: the standard fields, and your own keys beside them.
const datasetHash = createHash("sha256").update("ripple-v3").digest("hex");
await run.uploadEnvironment({
  ...collectEnvironment(), // node, OS, CPUs, memory, git SHA
  torch: torch.version,
  cuda: torch.cudaVersion,
  gpus: Array.from({ length: torch.cuda.deviceCount() }, (_, i) => torch.cuda.deviceName(i)),
  packages: Object.entries(process.versions).map(([name, version]) => `${name}@${version}`),
  trainer: { framework: "my-trainer", version: "2.3.1", mixed_precision: "bf16" },
  hyperparameters: resolvedConfig,
  dataset: { name: "ripple-v3", sha256: datasetHash, n_examples: 50_000 },
  seed: 1234,
});

// A payload of its own type, found on its own, with structured metadata.
await run.uploadAsset({
  asset_type: "trainer_config",
  content: resolvedConfig,
  asset_config: { schema_version: 3 },
});

// ── Checkpointing & resume ───────────────────────────────────────────────────────────────────
// Saving checkpoints: write a directory, hand it to the SDK, keep training while it uploads.
const tracker = new UploadTracker({ dbPath: join(out, "uploads.sqlite") });

/** The framework-specific line: whatever the loop needs to resume. */
async function saveState(ckpt: string, step: number): Promise<void> {
  const state: TrainState = { model: model.stateDict(), optimizer: optimizer.stateDict(), step };
  await torch.save(state, join(ckpt, "state.pt"));
}

async function checkpoint(step: number): Promise<void> {
  const ckpt = join(out, `checkpoint-${step}`);
  await mkdir(ckpt, { recursive: true });
  await saveState(ckpt, step);
  run.uploadDirectoryAsync(ckpt, { asset_type: "checkpoint", uploadTracker: tracker });
}

for (let step = 0; step < resolvedConfig.steps; step++) {
  model.step(resolvedConfig.lr);
  optimizer.step(resolvedConfig.lr);
  await checkpoint(step);
}
await run.succeed(); // waits until the pending uploads are finished
console.log(`run ${runIdx} trained ${resolvedConfig.steps} steps, checkpointed each, and succeeded`);

// Resuming: a continuation run starts from the newest ready checkpoint of the variation, whichever
// run made it. Linking W&B needs only the run id and entity: the project comes from the experiment.
const next = chronicle.run(expId, variation, runIdx + 1);
const started = await next.start({ wandb_run_id: wandb.init({ project: "ripple-pde" }).id, wandb_entity: wb.entity });
console.log(`run ${runIdx + 1} started; its W&B project, from the experiment: ${started.wandb?.project}`);

const resumeDir = join(out, "resume");
const ckpt = await next.latestOutput("checkpoint"); // newest ready checkpoint, or null
if (ckpt) await next.downloadAsset(ckpt.id, resumeDir); // streams every component to disk

// ...then load it with the framework, the mirror of saveState.
let startStep = 0;
if (ckpt) {
  const state = await torch.load<TrainState>(join(resumeDir, "state.pt"));
  model.loadStateDict(state.model);
  optimizer.loadStateDict(state.optimizer);
  startStep = state.step + 1;
}
console.log(`run ${runIdx + 1} resumed from step ${startStep} (asset ${ckpt?.id})`);

// The final model is a snapshot, by convention; resumable mid-training state is a checkpoint.
const finalDir = join(out, "final");
await mkdir(finalDir, { recursive: true });
await torch.save({ model: model.stateDict() }, join(finalDir, "model.pt"));
await next.uploadDirectoryAsync(finalDir, { asset_type: "snapshot", uploadTracker: tracker }).done;
await next.succeed();

// Listing outputs directly: latestOutput() is sugar over these.
const acrossRuns = await next.listOutputs({ acrossRuns: true }).all(); // every run of the variation, newest first
const ofThisRun = await next.listOutputs().all(); // this run's only
const researcherView = await chronicle.variation(expId, variation).listOutputs().all(); // from a Variation handle
console.log(
  `outputs: ${acrossRuns.length} across runs, ${ofThisRun.length} of run ${runIdx + 1}, ` +
    `${researcherView.length} from the variation handle`,
);

// Resuming from an input-linked checkpoint: a researcher (or an agent) links a checkpoint of this
// variation as the input of a new one, which branches training from it.
if (!ckpt) throw new Error(`${variation} has no ready checkpoint to branch from`);
const branch = chronicle.variation(expId, "branch-lr-1e-4");
await branch.put({ description: `branched from ${variation}'s newest checkpoint` });
await branch.linkInput(ckpt.id);

const branchRun = chronicle.run(expId, "branch-lr-1e-4", 0);
await branchRun.start();
const branchDir = join(out, "branch-resume");
for await (const asset of branch.listInputs()) {
  if (asset.asset_type === "checkpoint") {
    await branchRun.downloadAsset(asset.id, branchDir);
    console.log(`branch-lr-1e-4 starts from its input ${asset.id}`);
    break;
  }
}
await branchRun.succeed();
tracker.close();
console.log(`done: experiment ${expId}`);
