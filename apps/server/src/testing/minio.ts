import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SpawnedProcess, spawnProcess } from "./processes.js";

/** An S3 endpoint and the credentials to use it with. */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The S3 server the tests run on: TEST_S3_ENDPOINT (with TEST_S3_ACCESS_KEY_ID,
 * TEST_S3_SECRET_ACCESS_KEY and TEST_S3_REGION) when set, as the run's global setup sets it once it
 * has started MinIO. Undefined when there is none.
 */
export function s3UnderTest(env: NodeJS.ProcessEnv = process.env): S3Endpoint | undefined {
  if (!env.TEST_S3_ENDPOINT) return undefined;
  return {
    endpoint: env.TEST_S3_ENDPOINT,
    region: env.TEST_S3_REGION ?? "us-east-1",
    accessKeyId: env.TEST_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY ?? "",
  };
}

/**
 * The MinIO server binary the tests start: TEST_MINIO_BIN, as `.ci/minio` prints it after building
 * MinIO from source into a cache outside the checkout (MinIO is AGPL: it is built on the machine,
 * never shipped with the repository). The S3 suites are opt-in, so that the README's `pnpm test`
 * stays the quick embedded run.
 */
export function minioBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.TEST_MINIO_BIN && existsSync(env.TEST_MINIO_BIN) ? env.TEST_MINIO_BIN : undefined;
}

/** Whether the S3 suites run, and if not, the one line that says how to run them. */
export function s3Availability(env: NodeJS.ProcessEnv = process.env): { available: boolean; why: string } {
  if (env.TEST_S3_ENDPOINT) return { available: true, why: `S3 at TEST_S3_ENDPOINT (${env.TEST_S3_ENDPOINT})` };
  const binary = minioBinary(env);
  if (binary) return { available: true, why: `MinIO built from source (${binary})` };
  const missing = env.TEST_MINIO_BIN ? ` (TEST_MINIO_BIN=${env.TEST_MINIO_BIN} does not exist)` : "";
  return {
    available: false,
    why: `S3 suites not run${missing}: TEST_MINIO_BIN="$(.ci/minio)" runs them on MinIO (built from source the first time, a few minutes), or set TEST_S3_ENDPOINT`,
  };
}

export interface Minio extends S3Endpoint {
  process: SpawnedProcess;
  stop(): Promise<void>;
}

const ROOT_USER = "methodic-test";
const ROOT_PASSWORD = "methodic-test-secret";

/**
 * MinIO listening on 127.0.0.1 on a port the system picks, with a data dir of its own that `stop`
 * removes. Incomplete multipart uploads are kept for a week, as long as the server's pending TTL, so
 * that MinIO's own clean-up never races a test. Given a port and a data dir (the caller's, which
 * `stop` keeps), it starts there: the same MinIO again after a stop.
 */
export async function startMinio(
  binary = minioBinary(),
  place: { port: number; dataDir: string } | undefined = undefined,
): Promise<Minio> {
  if (!binary) throw new Error(s3Availability().why);
  const dataDir = place?.dataDir ?? (await mkdtemp(join(tmpdir(), "methodic-minio-")));
  const minio = spawnProcess(binary, ["server", dataDir, "--address", `127.0.0.1:${place?.port ?? 0}`], {
    env: {
      PATH: process.env.PATH,
      HOME: dataDir,
      MINIO_ROOT_USER: ROOT_USER,
      MINIO_ROOT_PASSWORD: ROOT_PASSWORD,
      MINIO_BROWSER: "off",
      MINIO_API_STALE_UPLOADS_EXPIRY: "168h",
      MINIO_UPDATE: "off",
    },
  });
  const stop = async () => {
    await minio.stop("SIGTERM");
    if (!place) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // Its banner names the port it took.
    const endpoint = (await minio.waitFor(/API: (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    for (let tries = 0; ; tries++) {
      const live = await fetch(`${endpoint}/minio/health/live`).catch(() => undefined);
      if (live?.ok) break;
      if (tries > 100) throw new Error(`MinIO at ${endpoint} never became live:\n${minio.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      endpoint,
      region: "us-east-1",
      accessKeyId: ROOT_USER,
      secretAccessKey: ROOT_PASSWORD,
      process: minio,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
