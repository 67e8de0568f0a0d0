import { fileURLToPath } from "node:url";
import type { ViteUserConfig } from "vitest/config";
import { CountsReporter } from "./counts-reporter.js";
import type { DatabaseDriver } from "./databases.js";
import { s3Availability } from "./minio.js";
import type { StorageDriver } from "./storage.js";

export interface SuiteProject {
  /** Shown in the test output beside each file. */
  name: string;
  database: DatabaseDriver;
  storage: StorageDriver;
  include?: string[];
  exclude?: string[];
}

export interface SuiteOptions {
  projects: SuiteProject[];
  /** Per test; generous, so that a busy machine slows the suite down without failing it. */
  testTimeout?: number;
  /** Test files at once in this package. */
  maxWorkers?: number;
  /** Run before each test file (the package's own, such as fast-check's seed). */
  setupFiles?: string[];
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL names a server. */
export function databasesUnderTest(env: NodeJS.ProcessEnv = process.env): DatabaseDriver[] {
  return env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

let told = false;

/**
 * The local disk always; S3 too when there is an S3 server to run on (TEST_S3_ENDPOINT, or a MinIO
 * built by .ci/minio). Without one, the S3 suites are left out, and one line says so and how to get
 * them: they are never counted as passed.
 */
export function storagesUnderTest(env: NodeJS.ProcessEnv = process.env): StorageDriver[] {
  const s3 = s3Availability(env);
  if (!s3.available && !told) {
    told = true;
    process.stderr.write(`${s3.why}\n`);
  }
  return s3.available ? ["local", "s3"] : ["local"];
}

const globalSetup = fileURLToPath(new URL("./global-setup.js", import.meta.url));

/**
 * The vitest configuration of a package's suite, the same in every package: one project per pair of
 * drivers (TEST_DRIVER, TEST_STORAGE for the harness), the run's shared setup, and in CI the counts
 * per project (test-results.json) from which .ci/run prints its closing lines.
 */
export function suiteConfig(options: SuiteOptions): ViteUserConfig {
  return {
    test: {
      reporters: process.env.CI ? ["default", new CountsReporter("test-results.json")] : ["default"],
      testTimeout: options.testTimeout ?? 120_000,
      hookTimeout: 180_000,
      globalSetup: [globalSetup],
      ...(options.setupFiles && { setupFiles: options.setupFiles }),
      // Most of a test's time is spent waiting on servers and child processes, not on a core.
      maxWorkers: options.maxWorkers ?? 2,
      // A worker runs its files one after another in one module graph: the server's modules and
      // PGlite's WebAssembly load once per worker rather than once per file. Files share no state
      // but what they make themselves. Threads cost a tenth less than processes (measured).
      pool: "threads",
      isolate: false,
      // The workspace's builds (the server, this harness, the SDK a CLI test uses) are imported as
      // they are, like any dependency, rather than transformed again in every test file.
      server: { deps: { external: [/\/dist\//] } },
      projects: options.projects.map((project) => ({
        extends: true as const,
        test: {
          name: project.name,
          env: { TEST_DRIVER: project.database, TEST_STORAGE: project.storage },
          include: project.include ?? ["test/**/*.test.ts"],
          ...(project.exclude && { exclude: project.exclude }),
        },
      })),
    },
  };
}
