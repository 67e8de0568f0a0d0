import { Chronicle } from "@methodic/sdk";
import { type Command, InvalidArgumentError } from "commander";

export interface GlobalOptions {
  url?: string;
  token?: string;
  verbose?: boolean;
}

/** The client for a command: `--url` and `--token`, else METHODIC_URL / METHODIC_TOKEN, else the credentials file. */
export function chronicleFor(command: Command): Chronicle {
  const { url, token } = command.optsWithGlobals<GlobalOptions>();
  return new Chronicle({ ...(url && { baseUrl: url }), ...(token && { token }) });
}

export interface RunRef {
  experiment: string;
  variation: string;
  run: number;
}

/** `<experiment>/<variation>/<run>`, as `--run` takes it. */
export function parseRunRef(value: string): RunRef {
  const match = /^([^/]+)\/([^/]+)\/(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected <experiment>/<variation>/<run index>, as in ripple/lr-3e-4/0.");
  return { experiment: match[1] as string, variation: match[2] as string, run: Number(match[3]) };
}

export function parseIndex(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a run index: 0, 1, 2, ...");
  return Number(value);
}

export function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError("expected a JSON object, as in '{\"lr\": 0.001}'.");
  }
  return parsed as Record<string, unknown>;
}

export function parsePositive(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a whole number above 0.");
  return Number(value);
}
