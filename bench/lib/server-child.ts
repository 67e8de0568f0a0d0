// The harness's server in a process of its own (see server.ts, launch "harness"). Tells ServerReady
// once it listens; answers "stats"; closes (dropping its database and data) when stdin closes, or on
// SIGTERM or SIGINT.
import { writeFile } from "node:fs/promises";
import { startServer } from "@methodic/server/testing";
import { listen, tell, watchJsMemory } from "./child.js";
import type { ServerChildOptions, ServerReady, ServerStats } from "./server.js";

const options = JSON.parse(process.argv[2] ?? "{}") as ServerChildOptions;
// Loaded only to profile: nothing the memory benchmark measures should be there for nothing.
const profiler = options.profile ? new (await import("node:inspector/promises")).Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post("Profiler.enable");
  await profiler.post("Profiler.start");
}
const js = options.jsMemory ? watchJsMemory() : undefined;

// The harness's "s3" would make a bucket of its own and run a counting proxy for its URLs in this very
// process, where the proxy's memory and CPU would count as the server's: the server starts on the
// local driver, and the S3_* variables (applied after the harness's own) point it at the bench's MinIO.
const server = await startServer({ database: options.database, storage: "local", env: options.env });

listen(
  (command) => {
    if (command === "stats")
      tell({ js: js?.take() ?? null, blobBytes: server.received.blobBytes } satisfies ServerStats);
  },
  async () => {
    if (profiler && options.profile) {
      const { profile } = await profiler.post("Profiler.stop");
      await writeFile(options.profile, JSON.stringify(profile));
    }
    await server.close();
    process.exit(0);
  },
);

tell({ url: server.url, token: server.token, databaseUrl: server.databaseUrl ?? null } satisfies ServerReady);
