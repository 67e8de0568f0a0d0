import { readFileSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface Credentials {
  baseUrl: string;
  token: string | undefined;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** `$XDG_CONFIG_HOME/methodic/credentials.json`, written by `methodic login` and `methodic serve`. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "methodic", "credentials.json");
}

/** What the credentials file holds; empty when there is none (or it is not JSON). */
export function readCredentialsFile(env: NodeJS.ProcessEnv = process.env): { url?: string; token?: string } {
  return readFile(credentialsPath(env));
}

function readFile(path: string): { url?: string; token?: string } {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as { url?: string; token?: string }) : {};
  } catch {
    return {};
  }
}

/**
 * Where the server is and which token to use, in docs/api.md's order: explicit arguments, then
 * METHODIC_URL / METHODIC_TOKEN, then the credentials file.
 */
export function resolveCredentials(
  explicit: { baseUrl?: string | undefined; token?: string | undefined } = {},
  env: NodeJS.ProcessEnv = process.env,
): Credentials {
  const file = explicit.baseUrl && explicit.token ? {} : readFile(credentialsPath(env));
  const baseUrl = explicit.baseUrl ?? env.METHODIC_URL ?? file.url ?? DEFAULT_URL;
  return { baseUrl: baseUrl.replace(/\/+$/, ""), token: explicit.token ?? env.METHODIC_TOKEN ?? file.token };
}

/**
 * Writes the credentials file (`methodic login`, `methodic serve`): readable by its owner only, and
 * replaced whole, so that a reader never sees half of it.
 */
export async function saveCredentials(
  credentials: { url: string; token: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const path = credentialsPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify({ url: credentials.url, token: credentials.token }, null, 2)}\n`, {
    mode: 0o600,
  });
  await chmod(partial, 0o600);
  await rename(partial, path);
  return path;
}
