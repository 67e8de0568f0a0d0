import { defineConfig } from "vitest/config";

// The suite drives the MCP server as a child process against a real Chronicle server: on PGlite and,
// with TEST_DATABASE_URL, on PostgreSQL. Storage stays the local disk: the tools never touch it, and
// the SDK's own suite covers the checkpoint uploads that seed the data here on S3.
const databases = process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

export default defineConfig({
  test: {
    // CI adds a JSON report, from which .ci/run prints one "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: databases.map((database) => ({
      extends: true as const,
      test: {
        name: database,
        include: ["test/**/*.test.ts"],
        env: { TEST_DRIVER: database, TEST_STORAGE: "local" },
      },
    })),
  },
});
