import { ADMIN_TOKEN, startServer } from "@methodic/server/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Chronicle } from "../src/index.js";
import { spawnTrainer } from "./trainer.js";

let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  server = await startServer({ env: { METHODIC_HEARTBEAT_TIMEOUT_S: "2", METHODIC_REAPER_INTERVAL_S: "1" } });
});
afterAll(() => server.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("heartbeats keep a run alive past the timeout; a run whose process died becomes lost", async () => {
  const chronicle = new Chronicle({ baseUrl: server.url, token: ADMIN_TOKEN, heartbeatIntervalMs: 300 });
  await chronicle.createExperiment({ id: "beats" });
  const alive = chronicle.run("beats", "v", 0);
  await alive.start();

  // A trainer in a process of its own starts run 1, then dies without a word.
  const trainer = spawnTrainer(
    `import { Chronicle } from "@methodic/sdk";
     const run = new Chronicle({ heartbeatIntervalMs: 300 }).run("beats", "v", 1);
     await run.start();
     console.log("started");
     setInterval(() => {}, 1000);`,
    server,
  );
  await trainer.waitFor(/started/);
  await sleep(1_000);
  await trainer.stop("SIGKILL");

  await sleep(4_500);
  expect((await alive.get()).state).toBe("running");
  expect((await chronicle.run("beats", "v", 1).get()).state).toBe("lost");
  await alive.succeed();
});

test("a heartbeat timer never keeps a finished trainer alive", async () => {
  const script = `import { Chronicle } from "@methodic/sdk";
    await new Chronicle().createExperiment({ id: "exits" }).catch(() => {});
    await new Chronicle({ heartbeatIntervalMs: 60_000 }).run("exits", "v", 0).start();
    console.log("started");`;
  const trainer = spawnTrainer(script, server);
  // It exits as soon as its work is done, long before the next heartbeat was due.
  await trainer.waitFor(/started/);
  const started = Date.now();
  const { code } = await trainer.exit;
  expect(code, trainer.output()).toBe(0);
  expect(Date.now() - started).toBeLessThan(15_000);
});
