import { writeFileSync } from "node:fs";
import type { Reporter, TestModule } from "vitest/node";

export interface ProjectCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** What a package's run leaves for .ci/run: its totals, and the same per project. */
export interface TestCounts {
  numPassedTests: number;
  numFailedTests: number;
  projects: Record<string, ProjectCounts>;
}

/**
 * Counts tests per project (so CI can say how many ran on MinIO) and writes them as JSON when the
 * run ends. A file that failed outside any test (an import that threw, a failing hook with no test
 * run) counts as one failed test, so that it cannot vanish from the closing line.
 */
export class CountsReporter implements Reporter {
  constructor(private readonly outputFile: string) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const projects: Record<string, ProjectCounts> = {};
    for (const module of modules) {
      const counts = projects[module.project.name] ?? { passed: 0, failed: 0, skipped: 0 };
      projects[module.project.name] = counts;
      let failed = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") failed++;
        else counts.skipped++;
      }
      if (failed === 0 && module.state() === "failed") failed = 1;
      counts.failed += failed;
    }
    const sum = (key: keyof ProjectCounts) => Object.values(projects).reduce((n, c) => n + c[key], 0);
    const report: TestCounts = { numPassedTests: sum("passed"), numFailedTests: sum("failed"), projects };
    writeFileSync(this.outputFile, `${JSON.stringify(report, null, 2)}\n`);
  }
}
