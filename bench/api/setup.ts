// What the load needs, made through the API as a trainer would: a write token, an experiment, the runs
// the heartbeats beat (started) and the variations the lifecycles work in.
import { call, createToken } from "../lib/api.js";

export const EXPERIMENT = "bench-api";
export const HEARTBEAT_VARIATION = "heartbeat";
export const CYCLE_PREFIX = "cycle";

/** Answers the write token the load authenticates with. */
export async function prepare(url: string, adminToken: string, connections: number): Promise<string> {
  const token = await createToken(url, adminToken, "bench-api", "write");
  await call(url, token, "POST", "/v1/experiments", { id: EXPERIMENT, name: "API benchmark" });
  const base = `/v1/experiments/${EXPERIMENT}/variations`;
  for (let i = 0; i < connections; i++) {
    await call(url, token, "POST", `${base}/${HEARTBEAT_VARIATION}/runs/${i}/start`);
    await call(url, token, "PUT", `${base}/${CYCLE_PREFIX}-${i}`, {});
  }
  return token;
}
