import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach } from "vitest";
import { killAll, type ServerProcess, spawnServer } from "../../src/testing/index.js";

export type { ServerProcess };

/**
 * Servers on the embedded default, each on a data dir of the test's; all are killed and their data
 * dirs removed after each test.
 */
export function embeddedServers() {
  const dirs: string[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return {
    start(dataDir: string, env: NodeJS.ProcessEnv = {}): ServerProcess {
      return spawnServer({ METHODIC_DATA_DIR: dataDir, ...env });
    },
    async dataDir(): Promise<string> {
      const dir = await mkdtemp(join(process.env.TEST_TMP_ROOT ?? "/tmp", "embedded-"));
      dirs.push(dir);
      return dir;
    },
  };
}
