import { fileURLToPath } from "node:url";
import { type SpawnedProcess, spawnProcess } from "@methodic/server/testing";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

/**
 * A trainer in a process of its own: an ES module given as text, importing `@methodic/sdk` (this
 * package's build) as a user's program would, pointed at `server` by METHODIC_URL and METHODIC_TOKEN.
 */
export function spawnTrainer(script: string, server: { url: string; token: string }): SpawnedProcess {
  return spawnProcess(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDir,
    env: { PATH: process.env.PATH, METHODIC_URL: server.url, METHODIC_TOKEN: server.token },
  });
}
