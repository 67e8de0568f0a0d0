import { defineConfig } from "vitest/config";

// The whole suite runs against a real server on each pair of drivers: PGlite and, with
// TEST_DATABASE_URL, PostgreSQL; the local disk and S3 (an s3rver in the test process).
const databases = process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
const storages = ["local", "s3"];

export default defineConfig({
  test: {
    // CI adds a JSON report, from which .ci/run prints one "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: databases.flatMap((database) =>
      storages.map((storage) => ({
        extends: true as const,
        test: {
          name: `${database}-${storage}`,
          include: ["test/**/*.test.ts"],
          env: { TEST_DRIVER: database, TEST_STORAGE: storage },
        },
      })),
    ),
  },
});
