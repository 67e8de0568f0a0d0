// The bare-Fastify ceiling: the heartbeat route's method and path answered from memory, with no
// database, auth, validation or serializer schema. What Node and Fastify alone cost per request on this
// machine. Prints {url}; exits when stdin closes.
import Fastify from "fastify";
import { listen, tell } from "../lib/child.js";

export interface BareReady {
  url: string;
}

const beats = new Map<string, number>();
const app = Fastify({ logger: false });
app.post<{ Params: { exp: string; var: string; run: string } }>(
  "/v1/experiments/:exp/variations/:var/runs/:run/heartbeat",
  async (request) => {
    const now = Date.now();
    beats.set(`${request.params.exp}/${request.params.var}/${request.params.run}`, now);
    return { state: "running", last_heartbeat_at: new Date(now).toISOString() };
  },
);
await app.listen({ port: 0, host: "127.0.0.1" });
const address = app.server.address();
if (typeof address !== "object" || address === null) throw new Error("not listening on TCP");

listen(
  () => {},
  async () => {
    await app.close();
    process.exit(0);
  },
);
tell({ url: `http://127.0.0.1:${address.port}` } satisfies BareReady);
