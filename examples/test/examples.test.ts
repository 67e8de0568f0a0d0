import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Chronicle } from "@methodic/sdk";
import { spawnProcess, startServer, type TestServer } from "@methodic/server/testing";
import { afterAll, beforeAll, expect, test } from "vitest";

const MiB = 1024 * 1024;
/** The crash example's part size. */
const PART = 5 * MiB;
const examples = fileURLToPath(new URL("..", import.meta.url));
let server: TestServer;
let chronicle: Chronicle;
let outRoot: string;

beforeAll(async () => {
  server = await startServer();
  chronicle = new Chronicle({ baseUrl: server.url, token: server.token });
  outRoot = await mkdtemp(join(tmpdir(), "methodic-examples-"));
});
afterAll(async () => {
  await server.close();
  await rm(outRoot, { recursive: true, force: true });
});

/** Runs an example's build as its README says, in a process of its own; resolves to what it printed. */
async function runExample(example: string, experiment: string, args: string[] = []): Promise<string> {
  const child = spawnProcess(process.execPath, [`dist/${example}/main.js`, ...args], {
    cwd: examples,
    env: {
      PATH: process.env.PATH,
      METHODIC_URL: server.url,
      METHODIC_TOKEN: server.token,
      EXPERIMENT: experiment,
      OUT_DIR: join(outRoot, experiment),
    },
  });
  const { code } = await child.exit;
  if (code !== 0) throw new Error(`${example} exited with ${code}:\n${child.output()}`);
  return child.output();
}

test("five-step-fit: a run with its environment, config and five checkpoints, succeeded", async () => {
  await runExample("five-step-fit", "fit");
  const run = chronicle.run("fit", "lr-0.5", 0);
  const record = await run.get();
  expect(record.state).toBe("succeeded");
  expect(record.summary).toMatchObject({ loss: expect.any(Number), w: expect.any(Number) });
  const outputs = await run.listOutputs().all();
  expect(outputs.map((a) => `${a.asset_type}:${a.name ?? ""}:${a.state}`)).toEqual([
    ...[5, 4, 3, 2, 1].map((step) => `checkpoint:checkpoint-${step}:ready`),
    "trainer_config::ready",
    "environment::ready",
  ]);
  // The loss went down, step after step.
  const states = await Promise.all(
    outputs.slice(0, 5).map(async (a) => {
      const dir = join(outRoot, "fit-check", a.id);
      await chronicle.downloadAsset(a.id, dir);
      return JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { step: number };
    }),
  );
  expect(states.map((s) => s.step)).toEqual([5, 4, 3, 2, 1]);
});

test("crash-and-resume: killed mid-upload, resumed as the same asset, continued by the next run", async () => {
  const checkpointMiB = 24;
  const before = server.received.blobBytes;
  const output = await runExample("crash-and-resume", "crash", ["--checkpoint-mib", String(checkpointMiB)]);
  expect(output).toMatch(/the same asset, \S+, finished/);

  for (const index of [0, 1]) expect((await chronicle.run("crash", "base", index).get()).state).toBe("succeeded");
  const checkpoints = await chronicle.variation("crash", "base").listOutputs({ asset_type: "checkpoint" }).all();
  // One asset per step, every one ready: the killed upload was finished, not started over.
  expect(checkpoints.map((a) => `${a.name}:${a.state}`).sort()).toEqual(
    [1, 2, 3, 4, 5, 6].map((step) => `checkpoint-${step}:ready`),
  );
  expect(checkpoints.filter((a) => a.run === 1).map((a) => a.name)).toEqual([
    "checkpoint-6",
    "checkpoint-5",
    "checkpoint-4",
  ]);
  // Sent twice at most: the pieces in flight when the trainer died (two per upload, and as many as
  // three checkpoints were going up).
  const stored = checkpoints.reduce((sum, a) => sum + a.size, 0);
  const sentTwice = server.received.blobBytes - before - stored;
  expect(sentTwice).toBeGreaterThanOrEqual(0);
  expect(sentTwice).toBeLessThanOrEqual(3 * 2 * PART);
});

test("guide: every block of the integration guide, in order", async () => {
  const output = await runExample("guide", "guide");
  expect(output).toContain("done: experiment guide");

  expect((await chronicle.getExperiment("guide")).wandb_project).toBe("ripple-pde");
  const first = await chronicle.run("guide", "lr-3e-4", 0).get();
  expect(first.state).toBe("succeeded");
  expect(first.wandb).toMatchObject({ entity: "ripple-lab", project: "ripple-pde" });
  expect(first.wandb?.dashboard_url).toBe(`https://wandb.ai/ripple-lab/ripple-pde/runs/${first.wandb?.run_id}`);
  // The continuation gave only the W&B run id and entity; the project came from the experiment.
  const second = await chronicle.run("guide", "lr-3e-4", 1).get();
  expect(second).toMatchObject({ state: "succeeded", wandb: { project: "ripple-pde" } });

  const outputs = await chronicle.variation("guide", "lr-3e-4").listOutputs().all();
  expect(outputs.map((a) => `${a.run}:${a.asset_type}`)).toEqual([
    "1:snapshot",
    ...Array(4).fill("0:checkpoint"),
    "0:trainer_config",
    "0:environment",
  ]);
  const environment = outputs.find((a) => a.asset_type === "environment")!;
  expect(await chronicle.getAssetContent(environment.id)).toMatchObject({
    node: process.version,
    torch: expect.any(String),
    gpus: expect.any(Array),
    hyperparameters: { lr: 3e-4, seed: 1234 },
    dataset: { name: "ripple-v3", n_examples: 50_000 },
  });
  const trainerConfig = outputs.find((a) => a.asset_type === "trainer_config")!;
  expect(trainerConfig.asset_config).toEqual({ schema_version: 3 });

  // The branch variation has the newest checkpoint as its input, and its run started from it.
  const newest = outputs.find((a) => a.asset_type === "checkpoint")!;
  const inputs = await chronicle.variation("guide", "branch-lr-1e-4").listInputs().all();
  expect(inputs.map((a) => a.id)).toEqual([newest.id]);
  expect(output).toContain(`branch-lr-1e-4 starts from its input ${newest.id}`);
  expect((await chronicle.run("guide", "branch-lr-1e-4", 0).get()).state).toBe("succeeded");
});
