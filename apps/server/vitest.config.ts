import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { databasesUnderTest, storagesUnderTest, suiteConfig } from "./src/testing/vitest.js";

// Every driver-independent test runs on PGlite, and on PostgreSQL when TEST_DATABASE_URL names a
// server; the asset suites run again on S3 (MinIO), on each database. `*.pg.test.ts` needs
// PostgreSQL, `*.pglite.test.ts` is about the embedded default only, `*.s3.test.ts` about the S3 driver.
const databases = databasesUnderTest();
const s3 = storagesUnderTest().includes("s3");
// test/schemathesis.test.ts runs the checkout's Schemathesis (.ci/python installs it): without it, the
// file is left out, and one line says so.
const schemathesis = existsSync(new URL("../../.venv/bin/schemathesis", import.meta.url));
if (!schemathesis) {
  process.stderr.write(
    "Schemathesis suites not run: .ci/python installs Schemathesis into .venv (requirements-dev.txt)\n",
  );
}
const withoutSchemathesis = schemathesis ? [] : ["test/schemathesis.test.ts"];

export default defineConfig(
  suiteConfig({
    // The longest suite of `pnpm test`: more files at once, so that it is not the last one running.
    maxWorkers: 4,
    setupFiles: ["./test/support/fast-check.ts"],
    projects: [
      {
        name: "pglite",
        database: "pglite",
        storage: "local",
        include: ["src/**/*.test.ts", "test/**/*.test.ts"],
        exclude: ["test/**/*.pg.test.ts", "test/**/*.s3.test.ts", ...withoutSchemathesis],
      },
      ...(databases.includes("postgres")
        ? [
            {
              name: "postgres",
              database: "postgres" as const,
              storage: "local" as const,
              exclude: ["test/**/*.pglite.test.ts", "test/**/*.s3.test.ts", ...withoutSchemathesis],
            },
          ]
        : []),
      ...(s3
        ? databases.map((database) => ({
            name: `${database}-minio`,
            database,
            storage: "s3" as const,
            include: ["test/assets*.test.ts", "test/outputs.test.ts", "test/**/*.s3.test.ts"],
          }))
        : []),
    ],
  }),
);
