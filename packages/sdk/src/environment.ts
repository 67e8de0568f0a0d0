import { execFileSync } from "node:child_process";
import { arch, cpus, hostname, platform, release, totalmem } from "node:os";

/** The git commit of the working directory, when it is in a repository. */
function gitSha(cwd: string): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** What a Node.js trainer would record about where it runs; add your own keys beside these. */
export function collectEnvironment(cwd = process.cwd()): Record<string, unknown> {
  const cores = cpus();
  return {
    node: process.version,
    os: { platform: platform(), release: release(), arch: arch() },
    hostname: hostname(),
    cpus: { count: cores.length, model: cores[0]?.model ?? null },
    memory_bytes: totalmem(),
    git_sha: gitSha(cwd),
  };
}
