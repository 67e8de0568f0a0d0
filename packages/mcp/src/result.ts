import { ChronicleError } from "@methodic/sdk";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * Runs one tool's call to Chronicle and answers its JSON as text. A failure becomes a tool error
 * (`isError`) carrying the API's code and message, so the agent reads it and can correct itself
 * instead of the session breaking on a protocol error.
 */
export async function answer(call: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    const value = await call();
    return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }] };
  } catch (err) {
    return toolError(describe(err));
  }
}

export function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

function describe(err: unknown): string {
  if (!(err instanceof ChronicleError)) return err instanceof Error ? err.message : String(err);
  const status = err.status > 0 ? ` (HTTP ${err.status})` : "";
  const details = err.details ? `\ndetails: ${JSON.stringify(err.details)}` : "";
  return `${err.code}${status}: ${err.message}${details}`;
}
