import type { Asset, InputAsset, RunRecord, RunState } from "@methodic/sdk";
import { type Command, Option } from "commander";
import { chronicleFor, parseIndex, parseJsonObject } from "../context.js";
import { bytes, printJson, printLine, printRecord, printTable, when } from "../output.js";

const RUN_STATES: RunState[] = ["running", "succeeded", "failed", "lost"];

/** `--json` prints what the API answered: every item of a list (paging followed), or one object. */
const json = new Option("--json", "print JSON for scripts: one array of every item, or one object");

const assetColumns = {
  ID: (a: Asset) => a.id,
  RUN: (a: Asset) => `${a.variation}/${a.run}`,
  TYPE: (a: Asset) => a.asset_type,
  NAME: (a: Asset) => a.name,
  STATE: (a: Asset) => a.state,
  SIZE: (a: Asset) => bytes(a.size),
  CREATED: (a: Asset) => when(a.created_at),
};

const runColumns = {
  RUN: (r: RunRecord) => `${r.variation}/${r.run}`,
  STATE: (r: RunRecord) => r.state,
  STARTED: (r: RunRecord) => when(r.started_at),
  FINISHED: (r: RunRecord) => when(r.finished_at),
  "LAST HEARTBEAT": (r: RunRecord) => when(r.last_heartbeat_at),
  "W&B": (r: RunRecord) => r.wandb?.dashboard_url,
};

function list<T>(items: T[], options: { json?: boolean }, columns: Record<string, (item: T) => unknown>) {
  if (options.json) printJson(items);
  else if (items.length === 0) process.stderr.write("(none)\n");
  else printTable(items, columns);
}

function show(record: object, options: { json?: boolean }) {
  if (options.json) printJson(record);
  else printRecord(record as Record<string, unknown>);
}

export function registerBrowse(program: Command): void {
  const experiments = program.command("experiments").description("list, create and show experiments");
  experiments
    .command("ls")
    .description("list experiments, newest first")
    .addOption(json)
    .action(async (options, command: Command) => {
      const items = await chronicleFor(command).listExperiments().all();
      list(items, options, {
        ID: (e) => e.id,
        NAME: (e) => e.name,
        "W&B PROJECT": (e) => e.wandb_project,
        CREATED: (e) => when(e.created_at),
      });
    });
  experiments
    .command("create")
    .description("create an experiment")
    .argument("<id>", "its id: letters, digits, '.', '_' or '-'")
    .option("--name <name>", "a readable name")
    .option("--description <text>", "what it is about")
    .option("--wandb-entity <entity>", "the W&B entity its runs log to by default")
    .option("--wandb-project <project>", "the W&B project its runs log to by default")
    .option("--config <json>", "its configuration, a JSON object", parseJsonObject)
    .addOption(json)
    .action(async (id: string, options, command: Command) => {
      const experiment = await chronicleFor(command).createExperiment({
        id,
        ...(options.name !== undefined && { name: options.name }),
        ...(options.description !== undefined && { description: options.description }),
        ...(options.wandbEntity !== undefined && { wandb_entity: options.wandbEntity }),
        ...(options.wandbProject !== undefined && { wandb_project: options.wandbProject }),
        ...(options.config !== undefined && { config: options.config }),
      });
      show(experiment, options);
    });
  experiments
    .command("show")
    .description("show one experiment")
    .argument("<id>")
    .addOption(json)
    .action(async (id: string, options, command: Command) => {
      show(await chronicleFor(command).getExperiment(id), options);
    });

  program
    .command("variations")
    .description("the variations of an experiment")
    .command("ls")
    .description("list an experiment's variations with their run counts")
    .argument("<experiment>")
    .addOption(json)
    .action(async (experiment: string, options, command: Command) => {
      const items = await chronicleFor(command).listVariations(experiment).all();
      list(items, options, {
        VARIATION: (v) => v.variation,
        RUNS: (v) =>
          Object.entries(v.run_counts)
            .filter(([, n]) => n > 0)
            .map(([state, n]) => `${n} ${state}`)
            .join(", ") || "none",
        DESCRIPTION: (v) => v.description,
        CREATED: (v) => when(v.created_at),
      });
    });

  const runs = program.command("runs").description("list and show runs");
  runs
    .command("ls")
    .description("list the runs of an experiment, or of one variation, newest first")
    .argument("<experiment>")
    .argument("[variation]")
    .addOption(new Option("--state <state>", "only runs in this state").choices(RUN_STATES))
    .addOption(json)
    .action(async (experiment: string, variation: string | undefined, options, command: Command) => {
      const items = await chronicleFor(command)
        .listRuns(experiment, {
          ...(variation !== undefined && { variation }),
          ...(options.state !== undefined && { state: options.state }),
        })
        .all();
      list(items, options, runColumns);
    });
  runs
    .command("show")
    .description("show one run")
    .argument("<experiment>")
    .argument("<variation>")
    .argument("<run>", "the run index", parseIndex)
    .addOption(json)
    .action(async (experiment: string, variation: string, run: number, options, command: Command) => {
      show(await chronicleFor(command).run(experiment, variation, run).get(), options);
    });

  const outputs = program.command("outputs").description("the assets a variation's runs produced");
  outputs
    .command("ls")
    .description("list a variation's outputs (of every run, or of one), newest first")
    .argument("<experiment>")
    .argument("<variation>")
    .option("--run <run>", "only this run's", parseIndex)
    .option("--type <asset_type>", "only assets of this type, as checkpoint")
    .addOption(json)
    .action(async (experiment: string, variation: string, options, command: Command) => {
      const items = await chronicleFor(command)
        .listOutputs(experiment, {
          variation,
          ...(options.run !== undefined && { run: options.run }),
          ...(options.type !== undefined && { asset_type: options.type }),
        })
        .all();
      list(items, options, assetColumns);
    });
  outputs
    .command("latest")
    .description("the newest ready output of a type, across the variation's runs (what a trainer resumes from)")
    .argument("<experiment>")
    .argument("<variation>")
    .requiredOption("--type <asset_type>", "the asset type, as checkpoint")
    .addOption(json)
    .action(async (experiment: string, variation: string, options, command: Command) => {
      const asset = await chronicleFor(command).variation(experiment, variation).latestOutput(options.type);
      if (options.json) printJson(asset);
      else if (asset) printRecord(asset);
      else printLine(`${experiment}/${variation} has no ready ${options.type} output`, process.stderr);
    });

  const inputs = program.command("inputs").description("assets linked to a variation as its inputs");
  const inputColumns = { ...assetColumns, LINKED: (a: InputAsset) => when(a.linked_at) };
  inputs
    .command("ls")
    .description("list a variation's inputs, last linked first")
    .argument("<experiment>")
    .argument("<variation>")
    .addOption(json)
    .action(async (experiment: string, variation: string, options, command: Command) => {
      list(await chronicleFor(command).variation(experiment, variation).listInputs().all(), options, inputColumns);
    });
  inputs
    .command("link")
    .description("link a ready asset (a checkpoint of any variation) as an input of this one")
    .argument("<experiment>")
    .argument("<variation>")
    .argument("<asset-id>")
    .addOption(json)
    .action(async (experiment: string, variation: string, assetId: string, options, command: Command) => {
      const linked = await chronicleFor(command).variation(experiment, variation).linkInput(assetId);
      if (options.json) printJson(linked);
      else printLine(`linked ${linked.asset_type} ${linked.id} as an input of ${experiment}/${variation}`);
    });
  inputs
    .command("unlink")
    .description("remove an input link (the asset itself stays)")
    .argument("<experiment>")
    .argument("<variation>")
    .argument("<asset-id>")
    .action(async (experiment: string, variation: string, assetId: string, _options, command: Command) => {
      await chronicleFor(command).variation(experiment, variation).unlinkInput(assetId);
      printLine(`unlinked ${assetId} from ${experiment}/${variation}`);
    });
}
