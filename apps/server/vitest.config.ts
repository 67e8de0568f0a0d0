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
          exclude: ["test/**/*.pg.test.ts"],
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
                exclude: ["test/**/*.pglite.test.ts"],
                globalSetup: ["test/setup/tmp.ts", "test/setup/postgres.ts"],
              },
            },
          ]
        : []),
    ],
  },
});
