import { ADMIN_TOKEN } from "../../src/testing/index.js";

export interface HttpAnswer {
  status: number;
  body: any;
  requestId: string | null;
  /** Why no answer came (a timeout, a reset connection); status is 0 then. */
  failure?: string;
}

/**
 * One request to a listening server over real HTTP, with the admin token and a JSON body if given:
 * whatever it answers, or status 0 and why nothing came within the timeout (a hang is a result too).
 */
export async function httpCall(
  baseUrl: string,
  method: string,
  path: string,
  body?: object,
  timeoutMs = 60_000,
): Promise<HttpAnswer> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body && { "content-type": "application/json" }) },
      ...(body && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      requestId: res.headers.get("x-request-id"),
    };
  } catch (err) {
    return { status: 0, body: undefined, requestId: null, failure: (err as Error).message };
  }
}
