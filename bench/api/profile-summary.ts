// Summarizes a .cpuprofile (from `api --profile <dir>`): the functions that took the most CPU themselves,
// and the share spent under each package, both as shares of the samples where it was not idle.
// Usage: pnpm exec tsx api/profile-summary.ts <file.cpuprofile> [top]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const [file, topText = "25"] = process.argv.slice(2);
if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile> [top]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const total = profile.samples.length;

const where = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, "");
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  return pkg ?? (url.includes("/apps/server/") ? "server" : url.startsWith("node:") ? "node" : url || "(native)");
};
const self = new Map<string, number>();
const underPackage = new Map<string, number>();
let idle = 0;
for (const [id, count] of hits) {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || "(anonymous)";
  if (name === "(idle)") {
    idle += count;
    continue;
  }
  const key = `${name} ${where(n)}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + count);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at)!;
    if (node.callFrame.functionName === "(root)") break;
    const pkg = where(node);
    if (!seen.has(pkg)) underPackage.set(pkg, (underPackage.get(pkg) ?? 0) + count);
    seen.add(pkg);
  }
}
// Shares of the busy samples: the server idles between the series it is not part of.
const busy = total - idle;
const pct = (n: number) => `${((100 * n) / busy).toFixed(1)}%`;
const seconds = (profile.endTime - profile.startTime) / 1e6;
console.log(
  `${total} samples over ${seconds.toFixed(1)} s; busy ${((seconds * busy) / total).toFixed(1)} s. Shares are of the busy samples.`,
);
console.log("\nself time, top functions:");
for (const [key, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topText)))
  console.log(`${pct(n).padStart(6)}  ${key}`);
console.log("\ninclusive time under each package (a sample counts once per package on its stack):");
for (const [key, n] of [...underPackage].sort((a, b) => b[1] - a[1]).slice(0, 20))
  console.log(`${pct(n).padStart(6)}  ${key}`);
