import { ADMIN_TOKEN, startServer, type TestServer } from "@methodic/server/testing";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { Chronicle, UnavailableError } from "../src/index.js";
import { type Fault, FaultyProxy } from "./faulty-proxy.js";

let server: TestServer;
let proxy: FaultyProxy | undefined;

beforeAll(async () => {
  server = await startServer();
  await new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN }).createExperiment({ id: "transport" });
});
afterAll(() => server.close());
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** A Chronicle whose requests go through a proxy that faults the first request `matching` as told. */
async function through(matching: RegExp, first: Fault, options: { timeoutMs?: number } = {}) {
  let faulted = false;
  proxy = await new FaultyProxy(server.url, (req) => {
    if (faulted || !matching.test(`${req.method} ${req.path}`)) return "pass";
    faulted = true;
    return first;
  }).start();
  return { chronicle: new Chronicle({ baseUrl: proxy.url, token: ADMIN_TOKEN, ...options }), proxy };
}

test("a read that meets a 503 is retried, and succeeds", async () => {
  const { chronicle, proxy } = await through(/^GET \/v1\/experiments\/transport$/, "unavailable");
  expect((await chronicle.getExperiment("transport")).id).toBe("transport");
  expect(proxy.count(/^GET \/v1\/experiments\/transport$/)).toBe(2);
});

test("a create that is not safe to repeat is tried once, and its failure is the caller's", async () => {
  const { chronicle, proxy } = await through(/^POST \/v1\/experiments$/, "unavailable");
  await expect(chronicle.createExperiment({ id: "transport-once" })).rejects.toBeInstanceOf(UnavailableError);
  expect(proxy.count(/^POST \/v1\/experiments$/)).toBe(1);
  const direct = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN });
  await expect(direct.getExperiment("transport-once")).rejects.toMatchObject({ status: 404 });
});

test("an asset create whose answer is lost is retried with the same Idempotency-Key: one asset", async () => {
  const { chronicle, proxy } = await through(/\/assets$/, "drop-answer");
  const run = chronicle.run("transport", "keyed", 0);
  await run.start();
  const asset = await run.uploadAsset({ asset_type: "trainer_config", content: { lr: 0.1 } });
  const creates = proxy.seen.filter((r) => r.path.endsWith("/assets"));
  expect(creates).toHaveLength(2);
  expect(creates[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
  expect(creates[1]!.headers["idempotency-key"]).toBe(creates[0]!.headers["idempotency-key"]);
  expect((await run.listOutputs().all()).map((a) => a.id)).toEqual([asset.id]);
});

test("a request left unanswered times out and, being safe to repeat, is sent again", async () => {
  const { chronicle, proxy } = await through(/^GET \/v1\/experiments\/transport$/, "hang", { timeoutMs: 300 });
  const started = Date.now();
  expect((await chronicle.getExperiment("transport")).id).toBe("transport");
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  expect(proxy.count(/^GET \/v1\/experiments\/transport$/)).toBe(2);
});

test("a request that is never answered fails with a timeout that says so", async () => {
  proxy = await new FaultyProxy(server.url, () => "hang").start();
  const chronicle = new Chronicle({ baseUrl: proxy.url, token: ADMIN_TOKEN, timeoutMs: 200 });
  await expect(chronicle.createExperiment({ id: "transport-hang" })).rejects.toThrow(/did not answer .* within 0.2 s/);
});

test("errors carry the id of the request the server logged", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN });
  const err = await chronicle.getExperiment("transport-missing").catch((e: unknown) => e);
  expect(err).toMatchObject({ status: 404, code: "experiment_not_found", requestId: expect.stringMatching(/^req_/) });
});

test("heartbeats never overlap, however slowly the server answers them", async () => {
  proxy = await new FaultyProxy(server.url, (req) =>
    req.path.endsWith("/heartbeat") ? { delayMs: 500 } : "pass",
  ).start();
  const chronicle = new Chronicle({ baseUrl: proxy.url, token: ADMIN_TOKEN, heartbeatIntervalMs: 100 });
  const run = chronicle.run("transport", "beats", 0);
  await run.start();
  await new Promise((resolve) => setTimeout(resolve, 1_800));
  await run.succeed();
  // Each heartbeat takes five intervals to answer: overlapping ones would be several at once.
  expect(proxy.count(/\/heartbeat$/)).toBeGreaterThanOrEqual(2);
  expect(proxy.maxInFlight(/\/heartbeat$/)).toBe(1);
});
