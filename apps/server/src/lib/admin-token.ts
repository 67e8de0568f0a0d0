import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { newSecret } from "./secrets.js";

/**
 * The embedded default's admin token: generated on the first start into `<data dir>/admin-token`
 * (mode 0600), read back on later starts. `created` tells whether this start wrote it.
 */
export async function embeddedAdminToken(dataDir: string): Promise<{ token: string; path: string; created: boolean }> {
  const path = join(resolve(dataDir), "admin-token");
  try {
    await writeFile(path, `${newSecret()}\n`, { mode: 0o600, flag: "wx" });
    return { token: (await readFile(path, "utf8")).trim(), path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const token = (await readFile(path, "utf8")).trim();
    if (token.length < 16) throw new Error(`${path} holds no usable token; delete it to have a new one generated.`);
    return { token, path, created: false };
  }
}
