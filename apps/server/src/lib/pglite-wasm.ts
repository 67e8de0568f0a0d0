import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { PGliteOptions } from "@electric-sql/pglite";

type WasmModule = NonNullable<PGliteOptions["pgliteWasmModule"]>;

/** The WebAssembly global: the TypeScript libs of this project declare neither it nor its types. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } })
  .WebAssembly;

let compiled: Promise<WasmModule> | undefined;

/**
 * PGlite's WebAssembly module (9 MB), compiled once per process. V8 compiles it on background threads,
 * so that asking for it early (server.ts does, before it loads the rest of the server) overlaps some
 * 300 ms of compiling with loading modules, which the main thread does. Every PGlite opened afterwards
 * (tests open many) reuses the module.
 */
export function pgliteWasmModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    const path = fileURLToPath(new URL("pglite.wasm", import.meta.resolve("@electric-sql/pglite")));
    return wasm.compile(await readFile(path));
  })();
  return compiled;
}
