/**
 * Crash mid-upload, resume, continue: three processes of one trainer (`trainer.ts`).
 *   1. Run 0 trains to step 3 and is killed with SIGKILL in the middle of uploading checkpoint-3.
 *   2. Run 0 is started again: its tracker resumes the unfinished upload, sending only what is missing.
 *   3. Run 1, a continuation, restores the newest checkpoint (checkpoint-3) and trains on to step 6.
 *
 *   pnpm --filter @methodic/examples crash-and-resume [--checkpoint-mib 128]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Chronicle } from "@methodic/sdk";
import { createExperiment, outDir } from "../shared/setup.js";

const { values: args } = parseArgs({ options: { "checkpoint-mib": { type: "string", default: "128" } } });
const chronicle = new Chronicle();
const experimentId = await createExperiment(chronicle, "crash-and-resume");
const out = await outDir(experimentId);

/** The trainer in a process of its own, its output echoed line by line to `onLine`. */
function trainer(run: number, until: number, onLine: (line: string) => void = () => {}): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("trainer.js", import.meta.url)),
      ...["--experiment", experimentId, "--run", String(run), "--until", String(until), "--out", out],
      ...["--checkpoint-mib", args["checkpoint-mib"]],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  createInterface({ input: child.stdout! }).on("line", (line) => {
    console.log(`  [run ${run}] ${line}`);
    onLine(line);
  });
  return child;
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  const [code] = child.exitCode === null && child.signalCode === null ? await once(child, "close") : [child.exitCode];
  return code as number | null;
}

async function completes(child: ChildProcess): Promise<void> {
  const code = await exitCode(child);
  if (code !== 0) throw new Error(`the trainer exited with ${code}`);
}

console.log(`experiment ${experimentId}, files in ${out}\n`);
console.log("1. run 0 trains to step 3; SIGKILL lands while checkpoint-3 is going up");
let killedAsset: string | undefined;
const doomed = trainer(0, 3, (line) => {
  // The first piece of checkpoint-3 is stored and more are in flight: the worst moment to die.
  const progress = /^checkpoint-3 \(asset (\S+)\): ([\d.]+) \/ ([\d.]+) MiB/.exec(line);
  if (progress && Number(progress[2]) > 0 && Number(progress[2]) < Number(progress[3])) {
    killedAsset = progress[1];
    doomed.kill("SIGKILL");
  }
});
await exitCode(doomed);
if (!killedAsset) throw new Error("run 0 ended before it could be killed mid-upload; try a larger --checkpoint-mib");
console.log(`  killed while asset ${killedAsset} was half uploaded\n`);

console.log("2. run 0 again: start is idempotent, and the tracker resumes the upload");
let resumedAsset: string | undefined;
await completes(
  trainer(0, 3, (line) => {
    resumedAsset ??= /^resumed checkpoint-3 is ready \(asset (\S+)\)/.exec(line)?.[1];
  }),
);
if (resumedAsset !== killedAsset) throw new Error(`resumed ${resumedAsset}, not the killed upload's ${killedAsset}`);
console.log(`  the same asset, ${resumedAsset}, finished: nothing was uploaded from scratch\n`);

console.log("3. run 1 continues from the newest checkpoint to step 6");
await completes(trainer(1, 6));

const latest = await chronicle.run(experimentId, "base", 1).latestOutput("checkpoint");
console.log(`\nthe newest checkpoint of ${experimentId}/base is now ${latest?.name} (asset ${latest?.id})`);
