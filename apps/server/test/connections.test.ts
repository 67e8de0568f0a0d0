import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_TOKEN, startServer, type TestServer, type TestServerOptions } from "../src/testing/index.js";
import { apiFor } from "./support/app.js";
import { createFiles, finalize, local, pieces, startRun } from "./support/assets.js";
import { captureLogs } from "./support/logs.js";

/** A raw TCP connection to a server: what it sent back, and when it closed. */
interface Connection {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

async function open(server: TestServer): Promise<Connection> {
  const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => text, closed };
}

/** Sends `body` in `chunk`-byte writes, one every `everyMs`, unless the connection closes first. */
async function trickle(connection: Connection, body: Buffer, chunk: number, everyMs: number) {
  let done = false;
  connection.closed.then(() => {
    done = true;
  });
  for (let offset = 0; offset < body.length && !done; offset += chunk) {
    connection.socket.write(body.subarray(offset, offset + chunk));
    await sleep(everyMs);
  }
}

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;

/** The status and error code of the one answer on a connection. */
function answerOf(text: string) {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return { status, text, body: body ? JSON.parse(body) : undefined };
}

/** A server of its own for the tests of one describe block, with these limits. */
function serverWith(options: TestServerOptions): () => TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer({ ...options, env: { LOG_LEVEL: "silent", ...options.env } });
  });
  afterAll(() => server?.close());
  return () => {
    if (!server) throw new Error("the server did not start");
    return server;
  };
}

describe("a client that stalls while sending its headers", () => {
  const log = captureLogs();
  const server = serverWith({ http: { headersTimeoutMs: 300 }, logger: { level: "info", stream: log.stream } });

  test("is answered 408 request_timeout and its connection closed", async () => {
    const connection = await open(server());
    connection.socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    await connection.closed;
    const answer = answerOf(connection.received());
    expect(answer.status).toBe(408);
    expect(answer.text).toMatch(/\r\nx-content-type-options: nosniff\r\n/);
    expect(answer.body.error).toEqual({
      code: "request_timeout",
      message: "The request's headers did not arrive within 0.3 s.",
      request_id: expect.stringMatching(/^req_/),
    });
    // The request id is the log's, as for any other answer.
    expect(log.entries().find((e) => e.request_id === answer.body.error.request_id)).toMatchObject({
      code: "ERR_HTTP_REQUEST_TIMEOUT",
      msg: "answered 408 request_timeout to a request that could not be read",
    });
  });

  test("so is one that connects and sends nothing", async () => {
    const connection = await open(server());
    await connection.closed;
    expect(answerOf(connection.received()).status).toBe(408);
  });
});

describe("an idle keep-alive connection", () => {
  const server = serverWith({ http: { keepAliveTimeoutMs: 300 } });

  test("is closed after the keep-alive timeout, once its answer is sent", async () => {
    const connection = await open(server());
    connection.socket.write(head("GET", "/healthz", {}));
    await connection.closed;
    expect(answerOf(connection.received()).status).toBe(200);
  });
});

describe("a request body", () => {
  const log = captureLogs();
  // At least 4 KiB every window of 500 ms.
  const server = serverWith({
    env: { METHODIC_BODY_MIN_RATE: "8192" },
    http: { bodyRateWindowMs: 500 },
    logger: { level: "warn", stream: log.stream },
  });

  /** Creates an experiment (a body of 48 KiB) sent `chunk` bytes every `everyMs`: its answer. */
  async function createSlowly(id: string, chunk: number, everyMs: number) {
    const body = Buffer.from(JSON.stringify({ id, config: { notes: "x".repeat(48 * 1024) } }));
    const connection = await open(server());
    connection.socket.write(
      head("POST", "/v1/experiments", {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        "content-type": "application/json",
        "content-length": body.length,
        connection: "close",
      }),
    );
    await trickle(connection, body, chunk, everyMs);
    await connection.closed;
    return answerOf(connection.received());
  }

  test("that trickles in below the minimum rate is answered 408 and its connection closed", async () => {
    // 100 bytes every 100 ms: 1,000 bytes/s.
    const answer = await createSlowly("trickled", 100, 100);
    expect(answer.status).toBe(408);
    expect(answer.body.error.code).toBe("request_timeout");
    expect(answer.body.error.message).toMatch(/under 8192 bytes\/s/);
    const warning = log.entries().find((e) => String(e.msg).includes("request body arrived at under"));
    expect(warning).toMatchObject({ request_id: answer.body.error.request_id, route: "/v1/experiments" });
    // Nothing was created.
    const api = apiFor(server().app);
    expect((await api.request({ method: "GET", url: "/v1/experiments/trickled" })).status).toBe(404);
  });

  test("that arrives slowly but above the minimum rate is taken, however long it takes", async () => {
    // 4 KiB every 100 ms: 40 KiB/s, five times the minimum, for more than two windows.
    expect((await createSlowly("steady", 4096, 100)).status).toBe(201);
  });

  test("of a blob PUT that arrives slowly but steadily is stored", async () => {
    const api = apiFor(server().app);
    const files = [{ path: "slow.bin", bytes: randomBytes(64 * 1024) }];
    const { asset, upload } = await createFiles(api, await startRun(api, "slow-upload"), files);
    const [piece] = pieces(upload, files);
    const connection = await open(server());
    connection.socket.write(
      head("PUT", local(piece!.url), {
        ...piece!.headers,
        "content-length": files[0]!.bytes.length,
        connection: "close",
      }),
    );
    await trickle(connection, files[0]!.bytes, 4096, 100);
    await connection.closed;
    expect(answerOf(connection.received()).status).toBe(200);
    expect(await finalize(api, asset.id)).toMatchObject({ state: "ready", size: files[0]!.bytes.length });
  });
});

describe("connections over the cap", () => {
  const server = serverWith({ env: { METHODIC_MAX_CONNECTIONS: "3" } });

  test("are closed as they arrive, and one is served again once another closes", async () => {
    const held = [await open(server()), await open(server()), await open(server())];
    // Each of the three is the server's: it answers on them.
    for (const connection of held) connection.socket.write(head("GET", "/healthz", {}));
    for (const connection of held) {
      while (!connection.received().includes("\r\n\r\n")) await sleep(10);
    }
    const refused = await open(server());
    refused.socket.write(head("GET", "/healthz", {}));
    await refused.closed;
    expect(refused.received()).toBe("");

    held[0]!.socket.destroy();
    await held[0]!.closed;
    // The server notices the close on its side a moment later (on a busy machine, a long moment).
    let served = "";
    for (let attempt = 0; attempt < 300 && !served.startsWith("HTTP/1.1 200"); attempt++) {
      if (attempt > 0) await sleep(100);
      const again = await open(server());
      again.socket.write(head("GET", "/healthz", { connection: "close" }));
      await again.closed;
      served = again.received();
    }
    expect(served).toMatch(/^HTTP\/1\.1 200/);
    for (const connection of held) connection.socket.destroy();
  });
});
