/**
 * Stand-ins for what the integration guide's trainer imports: a Weights & Biases client and a deep
 * learning framework. Only their shape matters to Chronicle; swap in the real ones in a real trainer.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";

/** `wandb.init()`: a W&B run, as far as Chronicle needs to know it. */
export const wandb = {
  init(options: { project: string; entity?: string; config?: Record<string, unknown> }) {
    const id = randomBytes(4).toString("hex");
    const entity = options.entity ?? "ripple-lab";
    return {
      id,
      entity,
      project: options.project,
      config: options.config ?? {},
      getUrl: () => `https://wandb.ai/${entity}/${options.project}/runs/${id}`,
    };
  },
};

type StateDict = Record<string, number[]>;

/** A module with parameters: what `model.state_dict()` and `load_state_dict()` work on. */
class Module {
  private parameters: StateDict = { weight: [0.1, -0.2, 0.3], bias: [0] };

  stateDict(): StateDict {
    return structuredClone(this.parameters);
  }

  loadStateDict(state: StateDict): void {
    this.parameters = structuredClone(state);
  }

  /** One optimisation step, moving every parameter a little. */
  step(learningRate: number): void {
    for (const values of Object.values(this.parameters)) {
      values.forEach((v, i) => {
        values[i] = v - learningRate * (v - 1);
      });
    }
  }
}

/** The framework: versions, devices, and save/load of any JSON-able state. */
export const torch = {
  version: "2.5.1",
  cudaVersion: "12.4",
  cuda: {
    deviceCount: () => 2,
    deviceName: (i: number) => `Stand-in GPU ${i} (80 GB)`,
  },
  Module,
  async save(state: unknown, path: string): Promise<void> {
    await writeFile(path, JSON.stringify(state));
  },
  async load<T>(path: string): Promise<T> {
    return JSON.parse(await readFile(path, "utf8")) as T;
  },
};
