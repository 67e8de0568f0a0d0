// The SDK side of the download benchmark, in a process of its own, the SDK and nothing else: a
// trainer fetching a checkpoint with `chronicle.downloadAsset`, each file streamed from its presigned
// URL (a large one in ranges at once), hashed as it is written, fsynced, verified against its sha256
// and renamed into place.
// Tells {seconds, bytes, files}.
import { Chronicle } from "@methodic/sdk";
import { listen, tell } from "../lib/child.js";
import type { DownloadDone } from "./compare.js";

export interface SdkDownloadOptions {
  url: string;
  token: string;
  assetId: string;
  directory: string;
  concurrency: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as SdkDownloadOptions;
listen(
  () => {},
  async () => process.exit(0),
);

const chronicle = new Chronicle({ baseUrl: options.url, token: options.token });
const started = performance.now();
const cpu = process.cpuUsage();
const files = await chronicle.downloadAsset(options.assetId, options.directory, { concurrency: options.concurrency });
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const cpuSeconds = (used.user + used.system) / 1e6;
tell({
  seconds,
  bytes: files.reduce((sum, f) => sum + f.size, 0),
  files: files.length,
  cpuSeconds,
} satisfies DownloadDone);
process.exit(0);
