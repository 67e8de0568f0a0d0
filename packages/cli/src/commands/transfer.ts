import { mkdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { NotFoundError } from "@methodic/sdk";
import { type Command, InvalidArgumentError, Option } from "commander";
import { chronicleFor, parseJsonObject, parsePositive, parseRunRef, type RunRef } from "../context.js";
import { Failure, UsageError } from "../errors.js";
import { bytes, type Progress, printJson, printLine, printRecord, progress } from "../output.js";

const MiB = 1024 * 1024;

/** Parts of 5 MiB (S3's least) to 5 GiB (its most). */
function parsePartSize(value: string): number {
  const mib = parsePositive(value);
  if (mib < 5 || mib > 5 * 1024) throw new InvalidArgumentError("expected MiB from 5 to 5120.");
  return mib;
}

/** `$XDG_STATE_HOME/methodic/uploads.sqlite`: where interrupted uploads are found again. */
function defaultTrackerPath(): string {
  return join(process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "methodic", "uploads.sqlite");
}

/** Ctrl-C ends the command at once; what was sent is known to the tracker (or stays staged in the target's .methodic-download folder). */
function onInterrupt(message: string): void {
  process.once("SIGINT", () => {
    process.stderr.write(`\ninterrupted: ${message}\n`);
    process.exit(130);
  });
}

export function registerTransfer(program: Command): void {
  program
    .command("upload")
    .summary("upload a directory as one asset of a run, resumably")
    .description(
      "upload a directory (a checkpoint) as one asset of a running or lost run; run the same command " +
        "again after an interruption and it resumes",
    )
    .argument("<dir>", "the directory; every file under it becomes a component")
    .requiredOption("--run <experiment/variation/run>", "the run it is an output of, as ripple/lr-3e-4/0", parseRunRef)
    .requiredOption("--type <asset_type>", "the asset type, as checkpoint or snapshot")
    .option("--name <name>", "a name, as step-4000")
    .option("--config <json>", "structured metadata (asset_config), a JSON object", parseJsonObject)
    .addOption(new Option("--concurrency <n>", "pieces in flight at once").argParser(parsePositive).default(8))
    .addOption(
      new Option("--part-size <MiB>", "the size of each part of a file sent in parts (5 or more)")
        .argParser(parsePartSize)
        .default(64),
    )
    .option("--tracker <file>", "the upload tracker's SQLite file", defaultTrackerPath())
    .option("--json", "print the ready asset as JSON")
    .action(async (dir: string, options, command: Command) => {
      const ref = options.run as RunRef;
      const label = `${ref.experiment}/${ref.variation}/${ref.run}`;
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError(`${dir} is not a directory.`);

      const chronicle = chronicleFor(command);
      const run = chronicle.run(ref.experiment, ref.variation, ref.run);
      // The CLI records outputs of runs that trainers start and end; it never does either itself.
      const record = await run.get().catch((err: unknown) => {
        if (err instanceof NotFoundError && err.code === "run_not_found") {
          throw new Failure(`run ${label} does not exist: a trainer starts runs, and upload only adds to them.`);
        }
        throw err;
      });
      if (record.state === "succeeded" || record.state === "failed") {
        throw new Failure(`run ${label} has ${record.state}: uploads go to running or lost runs.`);
      }

      await mkdir(dirname(options.tracker), { recursive: true });
      const { UploadTracker } = await import("@methodic/sdk/upload-tracker");
      const tracker = new UploadTracker({ dbPath: options.tracker });
      onInterrupt("run the same command again to resume the upload.");

      const resuming = tracker
        .pending()
        .find(
          (u) =>
            u.baseUrl === chronicle.baseUrl &&
            u.directory === resolve(dir) &&
            u.experimentId === ref.experiment &&
            u.variation === ref.variation &&
            u.run === ref.run,
        );
      if (resuming) printLine(`resuming the interrupted upload of asset ${resuming.assetId}`, process.stderr);
      process.stderr.write(`hashing ${dir}...\n`);
      const upload = run.uploadDirectoryAsync(dir, {
        asset_type: options.type,
        ...(options.name !== undefined && { name: options.name }),
        ...(options.config !== undefined && { asset_config: options.config }),
        concurrency: options.concurrency,
        partSize: options.partSize * MiB,
        uploadTracker: tracker,
      });
      let bar: Progress | undefined;
      upload.on("progress", ({ bytesSent, totalBytes }) => {
        if (!bar) {
          if (bytesSent > 0) printLine(`${bytes(bytesSent)} of asset ${upload.assetId} already stored`, process.stderr);
          bar = progress(`uploading ${upload.assetId}`, totalBytes);
        }
        bar.update(bytesSent);
      });
      const asset = await upload.done.finally(() => {
        bar?.stop();
        tracker.close();
      });
      if (options.json) printJson(asset);
      else printLine(`${asset.id} ready: ${asset.components.length} files, ${bytes(asset.size)}`);
    });

  program
    .command("download")
    .summary("download an asset's files, verified")
    .description("download a ready asset's files into a directory, each checked against its sha256")
    .argument("<asset-id>")
    .argument("<dir>", "created if missing; files already right are kept")
    .option("--json", "print the files written as JSON")
    .action(async (assetId: string, dir: string, options, command: Command) => {
      const chronicle = chronicleFor(command);
      const asset = await chronicle.getAsset(assetId);
      if (asset.inline) throw new Failure(`asset ${assetId} is inline JSON: read it at /v1/assets/${assetId}/content.`);
      onInterrupt("run the same command again to resume the download.");
      const bar = progress(`downloading ${assetId}`, asset.size);
      const files = await chronicle
        .downloadAsset(assetId, dir, { onProgress: (p) => bar.update(p.bytes) })
        .finally(() => bar.stop());
      if (options.json) printJson(files);
      else printRecord({ asset: asset.id, files: files.length, size: bytes(asset.size), into: dir });
    });
}
