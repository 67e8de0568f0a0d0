import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";
import type { Checkpoint } from "../lib/checkpoint.js";
import type { Child } from "../lib/children.js";
import { seededRandom } from "../lib/random.js";
import { emptyBucket } from "../lib/s3.js";
import { type HarnessServer, launchServer } from "../lib/server.js";
import { formatBytes, round } from "../lib/stats.js";
import {
  startUploader,
  type UploaderMessage,
  type UploaderOptions,
  uploaded,
  uploadTimeoutMs,
} from "../lib/uploader.js";
import { CountingProxy } from "./proxy.js";
import type { Calibration, Repetition } from "./report.js";

export interface MeasureOptions {
  database: DatabaseDriver;
  partSize: number;
  repetitions: number;
  concurrency: number;
  seed: number;
}

/**
 * On one storage driver and one fresh server: an uninterrupted upload (the calibration), then
 * `repetitions` uploads each killed at a random time and resumed by another process.
 */
export async function measure(
  options: MeasureOptions,
  storage: StorageDriver,
  work: string,
  checkpoint: Checkpoint,
  log: (line: string) => void,
): Promise<{ calibration: Omit<Calibration, "storage">; repetitions: Repetition[] }> {
  const { directory, totalBytes } = checkpoint;
  const uploaders: Child[] = [];
  const proxy = new CountingProxy();
  const draw = seededRandom(options.seed + (storage === "s3" ? 1 : 0));
  let server: HarnessServer | undefined;
  try {
    const proxyUrl = await proxy.listen();
    // Storage URLs are signed for the proxy, so that every byte sent to storage passes through it.
    server = await launchServer({
      launch: "harness",
      database: options.database,
      storage,
      partSize: options.partSize,
      env: storage === "s3" ? { S3_PUBLIC_ENDPOINT: proxyUrl } : { METHODIC_PUBLIC_URL: proxyUrl },
    });
    const { url, token, s3 } = server;
    proxy.setUpstream(s3 ? s3.endpoint : url);

    let runIndex = 0;
    const uploader = async (mode: UploaderOptions["mode"], run: number, trackerPath: string) => {
      const child = await startUploader(
        {
          url,
          token,
          experiment: `bench-resume-${storage}`,
          variation: "resume",
          run,
          directory,
          concurrency: options.concurrency,
          partSize: options.partSize,
          mode,
          trackerPath,
        },
        `uploader (${mode})`,
      );
      uploaders.push(child);
      return child;
    };
    const finish = async (child: Child) => {
      await child.stop();
      uploaders.splice(uploaders.indexOf(child), 1);
    };

    // Calibration: one upload left alone, for the time over which kills are drawn, and as a check that
    // an uninterrupted upload sends each byte once.
    proxy.take();
    const calibrating = await uploader("upload", runIndex++, join(work, "tracker-calibration.sqlite"));
    const calibrated = await uploaded(calibrating, totalBytes);
    await finish(calibrating);
    const calibration = {
      seconds: round(calibrated.seconds - (calibrated.createdAfter ?? 0), 3),
      bytes: proxy.take().putBytes,
    };
    log(`${storage}: an uninterrupted upload took ${calibration.seconds} s and sent ${calibration.bytes} bytes`);
    if (s3) await emptyBucket(s3);

    const repetitions: Repetition[] = [];
    for (let repetition = 1; repetition <= options.repetitions; repetition++) {
      let finishedBeforeKill = 0;
      for (;;) {
        const run = runIndex++;
        const trackerPath = join(work, `tracker-${storage}-${run}.sqlite`);
        proxy.take();
        const first = await uploader("upload", run, trackerPath);
        const created = await first.until<UploaderMessage, "created">("created");
        const killedAt = draw();
        const delayMs = killedAt * calibration.seconds * 1000;
        const createdAt = performance.now();
        const outcome = await Promise.race([
          sleep(delayMs).then(() => "kill" as const),
          // Once killed, the child's output ends and this rejects: that is expected, not a failure.
          first.until<UploaderMessage, "done">("done", uploadTimeoutMs(totalBytes)).then(
            () => "finished" as const,
            () => "gone" as const,
          ),
        ]);
        if (outcome === "gone") throw new Error("the first uploader exited before its kill");
        if (outcome === "finished") {
          // The upload won the race: nothing to resume. Draw again on a fresh run.
          finishedBeforeKill++;
          await finish(first);
          if (finishedBeforeKill >= 5) throw new Error("five uploads in a row finished before their kill");
          continue;
        }
        const killedAfter = (performance.now() - createdAt) / 1000;
        const putsInFlight = proxy.openPuts;
        const putsWholeAtKill = proxy.openPutsWhole;
        first.process.kill("SIGKILL");
        await finish(first);
        // Let the proxy see the connections of the dead process close.
        await sleep(200);
        const firstBytes = proxy.take().putBytes;

        const resumer = await uploader("resume", run, trackerPath);
        const resumed = await uploaded(resumer, totalBytes);
        await finish(resumer);
        if (resumed.asset.id !== created.assetId) {
          throw new Error(`the resume made asset ${resumed.asset.id}, not the killed one's ${created.assetId}`);
        }
        if (resumed.resumed !== 1) throw new Error(`the tracker resumed ${resumed.resumed} uploads, not 1`);
        const resumeBytes = proxy.take().putBytes;
        const sentTwice = firstBytes + resumeBytes - totalBytes;
        repetitions.push({
          storage,
          repetition,
          killedAfter: round(killedAfter, 3),
          killedAt: round(killedAt, 3),
          putsInFlight,
          putsWholeAtKill,
          firstBytes,
          resumeBytes,
          sentTwice,
          resumeSeconds: round(resumed.seconds, 3),
          finishedBeforeKill,
        });
        log(
          `${storage} ${repetition}/${options.repetitions}: killed ${round(killedAfter, 2)} s in with ${putsInFlight} PUTs open; ` +
            `sent twice ${formatBytes(sentTwice)}`,
        );
        if (s3) await emptyBucket(s3);
        break;
      }
    }
    return { calibration, repetitions };
  } finally {
    // The proxy first: its idle keep-alive connections would hold up the server's close.
    await proxy.close();
    for (const child of uploaders.reverse()) await child.stop();
    await server?.stop();
  }
}
