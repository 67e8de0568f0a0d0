import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";

/** Every tool but link and unlink only reads, and only from the Chronicle server it was given. */
export const readOnly: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
