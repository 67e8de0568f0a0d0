import { suiteConfig } from "@methodic/server/testing/vitest";
import { defineConfig } from "vitest/config";

// The built `methodic` binary in child processes, against `methodic serve` on the embedded default.
export default defineConfig(
  suiteConfig({ projects: [{ name: "embedded", database: "pglite", storage: "local" }], testTimeout: 180_000 }),
);
