import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // CI adds a JSON report, from which .ci/run prints one "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    setupFiles: ["./vitest.setup.ts"],
    // As in every other package (the harness's suiteConfig): a busy machine slows the property
    // tests down, never fails them.
    testTimeout: 120_000,
  },
});
