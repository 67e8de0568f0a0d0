import { databasesUnderTest, suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// Each example runs, as a user would run it, against a server on the local disk (PGlite) and on S3
// (PostgreSQL when TEST_DATABASE_URL names one).
const postgres = databasesUnderTest().includes("postgres");

export default defineConfig(
  suiteConfig({
    projects: [
      { name: "local", database: "pglite", storage: "local" },
      { name: "s3", database: postgres ? "postgres" : "pglite", storage: "s3" },
    ],
    testTimeout: 180_000,
  }),
);
