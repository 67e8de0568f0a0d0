/**
 * Part of the build: writes the seed a new embedded data dir starts from (`pgliteSeedPath`, beside
 * the compiled code), so that a first start loads a migrated database instead of running initdb.
 */
import { writeFile } from "node:fs/promises";
import { makePgliteSeed, pgliteSeedPath } from "./client.js";

const seed = await makePgliteSeed();
await writeFile(pgliteSeedPath, Buffer.from(await seed.arrayBuffer()));
console.log(`wrote ${pgliteSeedPath} (${seed.size} bytes)`);
