import { createServer } from "node:net";

/**
 * A port that was free a moment ago, for a program that must be told its port (the README's
 * walkthrough, a benchmark's child); whatever can listen on port 0 should do that instead.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no TCP address");
  return address.port;
}
