// MinIO, the S3 server of every benchmark that measures the S3 driver: built from source by
// .ci/minio, named by TEST_MINIO_BIN, and started through the harness's own startMinio. It is a
// process of its own (Go, not JavaScript), so its memory and CPU are never counted as the server's.
import { rmSync } from "node:fs";
import { minioBinary, type StorageDriver, startMinio } from "@methodic/server/testing";
import { Skipped } from "./benchmark.js";
import { createBucket, type S3Target } from "./s3.js";

/** Why there is no MinIO to run. */
const missing = () =>
  process.env.TEST_MINIO_BIN
    ? `TEST_MINIO_BIN=${process.env.TEST_MINIO_BIN} does not exist`
    : "TEST_MINIO_BIN is not set";
const HOW = 'set TEST_MINIO_BIN="$(.ci/minio)" (it builds MinIO from source once, a few minutes, and prints its path)';
const noMinio = () => `S3 needs MinIO, but ${missing()}: ${HOW}`;

/**
 * The storage drivers a run measures. S3 needs MinIO: without one, a run fails at once with the line
 * that says how to get it (before any checkpoint is written), and a `--smoke` run (CI) leaves S3 out
 * and says so in one line, so that CI without MinIO still runs the local side (and, with nothing
 * left, exits 0: Skipped).
 */
export function storagesToRun(wanted: StorageDriver[], smoke: boolean, log: (line: string) => void): StorageDriver[] {
  if (!wanted.includes("s3") || minioBinary()) return wanted;
  if (!smoke) throw new Error(noMinio());
  const rest = wanted.filter((storage) => storage !== "s3");
  const line = `--smoke: S3 skipped (${missing()}); to run it, ${HOW}`;
  if (rest.length === 0) throw new Skipped(line);
  log(line);
  return rest;
}

export interface BenchMinio {
  /** Its one bucket. */
  target: S3Target;
  pid: number;
  /** The server's variables that point it at the bucket. */
  env: Record<string, string>;
  /** Stops MinIO and removes its data. */
  stop(): Promise<void>;
}

const BUCKET = "methodic-bench";

/** A fresh MinIO with one bucket, on a free port of 127.0.0.1, its data in a temporary directory. */
export async function startBenchMinio(): Promise<BenchMinio> {
  const binary = minioBinary();
  if (!binary) throw new Error(noMinio());
  const minio = await startMinio(binary);
  const { child } = minio.process;
  // Ctrl-C and errors end the bench with process.exit, which runs no finally: MinIO would outlive it,
  // with gigabytes in its data dir (its second argument, `minio server <dir>`).
  const dataDir = child.spawnargs[2];
  const kill = () => {
    child.kill("SIGKILL");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", kill);
  const stop = async () => {
    process.off("exit", kill);
    await minio.stop();
  };
  try {
    const { endpoint, region, accessKeyId, secretAccessKey } = minio;
    const target: S3Target = { endpoint, region, accessKeyId, secretAccessKey, bucket: BUCKET };
    await createBucket(target);
    return {
      target,
      pid: child.pid!,
      env: {
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: endpoint,
        S3_REGION: region,
        S3_FORCE_PATH_STYLE: "true",
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: secretAccessKey,
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
