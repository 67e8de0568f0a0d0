import { spawn } from "node:child_process";
import { once } from "node:events";
import { ADMIN_TOKEN, startServer } from "@methodic/testkit";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Chronicle } from "../src/index.js";

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
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import { Chronicle } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)};
       const run = new Chronicle({ heartbeatIntervalMs: 300 }).run("beats", "v", 1);
       await run.start();
       console.log("started");
       setInterval(() => {}, 1000);`,
    ],
    {
      env: { ...process.env, METHODIC_URL: server.url, METHODIC_TOKEN: ADMIN_TOKEN },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await once(child.stdout!, "data");
  await sleep(1_000);
  child.kill("SIGKILL");

  await sleep(4_500);
  expect((await alive.get()).state).toBe("running");
  expect((await chronicle.run("beats", "v", 1).get()).state).toBe("lost");
  await alive.succeed();
}, 30_000);

test("a heartbeat timer never keeps a finished trainer alive", async () => {
  const script = `import { Chronicle } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)};
    await new Chronicle().createExperiment({ id: "exits" }).catch(() => {});
    await new Chronicle({ heartbeatIntervalMs: 60_000 }).run("exits", "v", 0).start();
    console.log("started");`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
    env: { ...process.env, METHODIC_URL: server.url, METHODIC_TOKEN: ADMIN_TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const started = Date.now();
  const [code] = await once(child, "exit");
  expect(code).toBe(0);
  expect(Date.now() - started).toBeLessThan(15_000);
});
