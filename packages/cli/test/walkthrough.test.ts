import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnProcess } from "@methodic/server/testing";
import { expect, test } from "vitest";

const repo = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * The README's CLI walkthrough: the shell block after the `cli-walkthrough` marker, exactly as written
 * but for the port, which is a free one rather than 8080 (another program may hold that).
 */
async function walkthrough(): Promise<string> {
  const readme = await readFile(join(repo, "README.md"), "utf8");
  const match = /<!-- cli-walkthrough -->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error("README.md has no CLI walkthrough block");
  return match[1];
}

test("the README's CLI walkthrough runs as written", { timeout: 180_000 }, async () => {
  const home = await mkdtemp(join(tmpdir(), "methodic-walkthrough-"));
  const port = String(await freePort());
  try {
    // A fresh user: an empty home and working directory, and `methodic` on the PATH as the README says.
    const script = (await walkthrough()).replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`);
    const child = spawnProcess("bash", ["-euo", "pipefail", "-c", script], {
      cwd: home,
      env: { PATH: `${join(repo, "node_modules", ".bin")}:${process.env.PATH}`, HOME: home, PORT: port },
    });
    const { code } = await child.exit;
    const output = child.output();
    expect(code, output).toBe(0);
    expect(output).toContain("restored byte for byte");
    expect(output).toMatch(/^base\/0\s+running\s/m);
    expect(output).toMatch(/ready: 2 files, 256 MiB/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
