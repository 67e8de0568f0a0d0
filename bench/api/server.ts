// The Chronicle server under load, in a process of its own: testkit's startServer on the database asked
// for, with auth on as always. Prints {url, adminToken}; closes (dropping its database) when stdin
// closes, or on SIGTERM or SIGINT. With `profile`, V8's CPU profile of its whole life is written there.
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { type DatabaseDriver, startServer } from "@methodic/server/testing";
import { listen, tell } from "../lib/child.js";

export interface ApiServerOptions {
  database: DatabaseDriver;
  /** A .cpuprofile file to write when the server stops. */
  profile?: string;
}

export interface ApiServerReady {
  url: string;
  /** Only for setting up (creating the write token the load uses); the load never sends it. */
  adminToken: string;
}

const options = JSON.parse(process.argv[2] ?? "{}") as ApiServerOptions;
const profiler = options.profile ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post("Profiler.enable");
  await profiler.post("Profiler.start");
}
const server = await startServer({ database: options.database, storage: "local" });

listen(
  () => {},
  async () => {
    if (profiler && options.profile) {
      const { profile } = await profiler.post("Profiler.stop");
      await writeFile(options.profile, JSON.stringify(profile));
    }
    await server.close();
    process.exit(0);
  },
);

tell({ url: server.url, adminToken: server.token } satisfies ApiServerReady);
