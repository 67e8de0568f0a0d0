// What the load needs, made through the API as a trainer would: a write token, an experiment, the runs
// the heartbeats beat (started) and the variations the lifecycles work in.
export const EXPERIMENT = "bench-api";
export const HEARTBEAT_VARIATION = "heartbeat";
export const CYCLE_PREFIX = "cycle";

async function call(url: string, token: string, method: string, path: string, body?: object): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body && { "content-type": "application/json" }) },
    ...(body && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Answers the write token the load authenticates with. */
export async function prepare(url: string, adminToken: string, connections: number): Promise<string> {
  const { token } = (await call(url, adminToken, "POST", "/v1/tokens", { name: "bench-api", scope: "write" })) as {
    token: string;
  };
  await call(url, token, "POST", "/v1/experiments", { id: EXPERIMENT, name: "API benchmark" });
  const base = `/v1/experiments/${EXPERIMENT}/variations`;
  for (let i = 0; i < connections; i++) {
    await call(url, token, "POST", `${base}/${HEARTBEAT_VARIATION}/runs/${i}/start`);
    await call(url, token, "PUT", `${base}/${CYCLE_PREFIX}-${i}`, {});
  }
  return token;
}
