import { defineConfig } from "vitest/config";

// Every driver-independent test runs on PGlite; with TEST_DATABASE_URL set it runs on PostgreSQL too.
// `*.pg.test.ts` needs a PostgreSQL server, `*.pglite.test.ts` is about the embedded default only.
const postgres = process.env.TEST_DATABASE_URL;

export default defineConfig({
  test: {
    // CI adds a JSON report, from which .ci/run prints one "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true as const,
        test: {
          name: "pglite",
          env: { TEST_DRIVER: "pglite" },
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["test/**/*.pg.test.ts", "test/**/*.s3.test.ts"],
          globalSetup: ["test/setup/tmp.ts", "test/setup/pglite.ts"],
        },
      },
      ...(postgres
        ? [
            {
              extends: true as const,
              test: {
                name: "postgres",
                env: { TEST_DRIVER: "postgres" },
                include: ["test/**/*.test.ts"],
                exclude: ["test/**/*.pglite.test.ts", "test/**/*.s3.test.ts"],
                globalSetup: ["test/setup/tmp.ts", "test/setup/postgres.ts"],
              },
            },
          ]
        : []),
      {
        // The asset suite again on the S3 driver (s3rver in-process, or TEST_S3_ENDPOINT), on
        // PostgreSQL when there is one.
        extends: true as const,
        test: {
          name: "s3",
          env: {
            TEST_DRIVER: postgres ? "postgres" : "pglite",
            TEST_STORAGE: "s3",
            AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "S3RVER",
            AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "S3RVER",
          },
          include: ["test/assets*.test.ts", "test/outputs.test.ts", "test/**/*.s3.test.ts"],
          globalSetup: [
            "test/setup/tmp.ts",
            postgres ? "test/setup/postgres.ts" : "test/setup/pglite.ts",
            "test/setup/s3.ts",
          ],
        },
      },
    ],
  },
});
