import { defineConfig } from "vitest/config";

// Each example runs, as a user would run it, against a server on the local disk (PGlite) and on S3
// (PostgreSQL when TEST_DATABASE_URL names one).
export default defineConfig({
  test: {
    // CI adds a JSON report, from which .ci/run prints one "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true as const, test: { name: "local", env: { TEST_DRIVER: "pglite", TEST_STORAGE: "local" } } },
      {
        extends: true as const,
        test: {
          name: "s3",
          env: { TEST_DRIVER: process.env.TEST_DATABASE_URL ? "postgres" : "pglite", TEST_STORAGE: "s3" },
        },
      },
    ],
  },
});
