import { pgliteWasmModule } from "./lib/pglite-wasm.js";

// The embedded database's WebAssembly compiles on V8's background threads while the main thread loads
// the rest of the server (a failure surfaces where the database opens).
if (!process.env.DATABASE_URL) pgliteWasmModule().catch(() => {});
const { serve, startupMessage } = await import("./serve.js");

try {
  await serve();
} catch (err) {
  console.error(startupMessage(err) ?? err);
  process.exit(1);
}
