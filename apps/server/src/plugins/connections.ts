import { randomBytes } from "node:crypto";
import { type Server, STATUS_CODES } from "node:http";
import { Socket } from "node:net";
import type { FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { HttpLimits } from "../config.js";
import { ApiError } from "../errors.js";
import { errorBody } from "./errors.js";

/** Our own request ids, never a client's: a log line must not be forged from outside. */
export const newRequestId = () => `req_${randomBytes(12).toString("base64url")}`;

/**
 * How long a connection we answer and close stays open for reading: closing a socket that has unread
 * input resets the connection, which can lose the answer before the client reads it.
 */
const LINGER_MS = 1_000;

/** Writes an error answer straight to a connection that HTTP can no longer serve, and closes it. */
function answerAndClose(socket: Socket, err: ApiError, requestId: string): void {
  const body = JSON.stringify(errorBody(err, requestId));
  const head = [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status]}`,
    "connection: close",
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    "x-content-type-options: nosniff",
  ];
  if (socket.writable) socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** A response under way on a socket: Node keeps it there (the 'clientError' docs speak of it). */
const responseStarted = (socket: Socket) =>
  (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage?.headersSent === true;

/**
 * Fastify's options for the Node HTTP server's own limits: headers within headersTimeoutMs, idle
 * keep-alive connections closed after keepAliveTimeoutMs, any connection on which nothing moves
 * for idleTimeoutMs while a request is in progress closed. No time limit on a whole request: a large
 * upload on a slow link may take hours; the body's rate is what is checked (connectionsPlugin).
 */
export function serverOptions(limits: HttpLimits): FastifyHttpOptions<Server> {
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: 0,
    connectionTimeout: limits.idleTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: 0,
      // How often Node looks for connections past headersTimeout (its default, 30 s, would let a
      // stalled one stay half as long again).
      connectionsCheckingInterval: Math.min(1_000, Math.max(10, Math.floor(limits.headersTimeoutMs / 4))),
    },
    // Node's answers to requests it cannot parse or that timed out, in our error body. Fastify calls
    // it with itself as `this`.
    clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      if (responseStarted(socket)) {
        socket.destroy();
        return;
      }
      const apiError =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? new ApiError(
              "request_timeout",
              `The request's headers did not arrive within ${limits.headersTimeoutMs / 1000} s.`,
            )
          : err.code === "HPE_HEADER_OVERFLOW"
            ? new ApiError("invalid_request", "The request's headers are larger than the server accepts.")
            : new ApiError("invalid_request", "The request is not valid HTTP/1.1.");
      const requestId = newRequestId();
      this.log.info(
        { request_id: requestId, code: err.code, remoteAddress: socket.remoteAddress },
        `answered ${apiError.status} ${apiError.code} to a request that could not be read`,
      );
      answerAndClose(socket, apiError, requestId);
    },
  };
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers["content-length"];
  return request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * Every request body must arrive at no less than bodyMinRate bytes per second, measured over each
 * window of bodyRateWindowMs; a slower one is answered 408 and its connection closed. A window in
 * which the server held the socket back (backpressure: a handler reading slowly, storage slow to
 * take the bytes) does not count against the client.
 */
function watchBodyRate(request: FastifyRequest, reply: FastifyReply, limits: HttpLimits): void {
  const socket = request.raw.socket;
  const needed = (limits.bodyMinRate * limits.bodyRateWindowMs) / 1000;
  let last = socket.bytesRead;
  let held = false;
  const onPause = () => {
    held = true;
  };
  const stop = () => {
    clearInterval(timer);
    socket.off("pause", onPause);
  };
  const timer = setInterval(() => {
    if (request.raw.complete || socket.destroyed) return stop();
    const arrived = socket.bytesRead - last;
    last = socket.bytesRead;
    if (held || socket.isPaused() || arrived >= needed) {
      held = socket.isPaused();
      return;
    }
    stop();
    request.log.warn(
      { route: request.routeOptions.url, arrived, windowMs: limits.bodyRateWindowMs },
      `closing the connection: the request body arrived at under ${limits.bodyMinRate} bytes/s`,
    );
    const err = new ApiError(
      "request_timeout",
      `The request body arrived at under ${limits.bodyMinRate} bytes/s (METHODIC_BODY_MIN_RATE); the connection is closed.`,
    );
    // Answered already (a 401 before the body was read): the rest of the body is not waited for.
    if (reply.raw.headersSent) socket.destroy();
    else answerAndClose(socket, err, request.id);
  }, limits.bodyRateWindowMs);
  timer.unref();
  socket.on("pause", onPause);
  request.raw.once("close", stop);
}

/** The limits on connections that need the server itself: the connection cap, the body rate. */
export const connectionsPlugin = fp(async (app: FastifyInstance, opts: { limits: HttpLimits }) => {
  const { limits } = opts;
  app.server.maxConnections = limits.maxConnections;
  // Refused connections are told in the log, at most once a minute.
  let refused = 0;
  let toldAt = 0;
  app.server.on("drop", () => {
    refused += 1;
    if (Date.now() - toldAt < 60_000) return;
    app.log.warn(
      { refused, maxConnections: limits.maxConnections },
      `refused ${refused} connection(s): ${limits.maxConnections} are open already (METHODIC_MAX_CONNECTIONS)`,
    );
    refused = 0;
    toldAt = Date.now();
  });

  app.addHook("onRequest", (request, reply, done) => {
    // Requests made in-process (inject) have no connection to be slow on.
    if (request.raw.socket instanceof Socket && hasBody(request)) watchBodyRate(request, reply, limits);
    done();
  });
});
