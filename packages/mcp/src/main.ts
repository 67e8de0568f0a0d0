#!/usr/bin/env node
import { serveStdio } from "./server.js";

serveStdio().catch((err: unknown) => {
  process.stderr.write(`methodic-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
