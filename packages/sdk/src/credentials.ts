import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Credentials {
  baseUrl: string;
  token: string | undefined;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** `$XDG_CONFIG_HOME/methodic/credentials.json`, written by `methodic login` and `methodic serve`. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "methodic", "credentials.json");
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
 * Where the server is and which token to use, in api.md's order: explicit arguments, then
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
