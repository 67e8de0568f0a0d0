import { databasesUnderTest, suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// The suite drives the MCP server as a child process against a real Chronicle server: on PGlite and,
// with TEST_DATABASE_URL, on PostgreSQL. Storage stays the local disk: the tools never touch it, and
// the SDK's own suite covers the checkpoint uploads that seed the data here on S3.
export default defineConfig(
  suiteConfig({
    projects: databasesUnderTest().map((database) => ({ name: database, database, storage: "local" as const })),
  }),
);
