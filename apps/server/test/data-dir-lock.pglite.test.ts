import { describe, expect, test } from "vitest";
import { embeddedServers } from "./support/server-process.js";

const { start, dataDir } = embeddedServers();

describe("the data dir lock", () => {
  test("a second server on the same data dir refuses to start, naming the first", async () => {
    const dir = await dataDir();
    const first = start(dir);
    const url = await first.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const second = start(dir);
    expect((await second.exit).code).toBe(1);
    const message = second.stderr().trim();
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toContain(`is in use by another Chronicle server (pid ${first.child.pid}`);

    // The first one is unharmed.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  test("after a crash the data dir is taken over once the dead server's lock goes stale", async () => {
    const dir = await dataDir();
    const crashed = start(dir);
    await crashed.url;
    await crashed.stop("SIGKILL");

    const next = start(dir);
    const url = await next.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });
});
