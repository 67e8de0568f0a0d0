import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a real server, to make it go away and come back: stop() drops every
 * connection and refuses new ones, start() listens on the same port again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private cutOnUse = false;
  private resetting = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /**
   * Connections that look alive until used, as when the server vanished without a word: from now on
   * (until stopped and started again), the next bytes a client sends cut its connection instead of going through.
   */
  cutWhenUsed(): void {
    this.cutOnUse = true;
  }

  /**
   * A database going down hard, without giving the port up (another process could take it in
   * between): every connection, open or new, is reset (ECONNRESET) until `restore()`.
   */
  resetConnections(): void {
    this.resetting = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  /** Connections go through again. */
  restore(): void {
    this.resetting = false;
    this.cutOnUse = false;
  }

  async start(): Promise<void> {
    this.restore();
    const server = createServer((client) => {
      if (this.resetting) {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      // Before the pipe's own listener, so that nothing of a cut connection's bytes goes through.
      client.on("data", () => {
        if (!this.cutOnUse) return;
        client.destroy();
        upstream.destroy();
      });
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
