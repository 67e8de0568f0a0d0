import { setTimeout as sleep } from "node:timers/promises";
import { isTransient } from "./errors.js";

/** Attempts of a retried request, the first included. */
export const ATTEMPTS = 5;

/** Exponential, capped at 8 s, jittered so that many clients cut off together do not return together. */
export function backoff(attempt: number): number {
  return Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random());
}

/** Thrown by an attempt that can go again at once (it fixed what failed: a fresh URL, say). */
export class RetryNow extends Error {
  override name = "RetryNow";
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

export interface RetryOptions {
  attempts?: number;
  /** Whether a failure is worth another attempt; transient API and network failures by default. */
  retryable?: (err: unknown) => boolean;
  signal?: AbortSignal | undefined;
}

/**
 * The one retry loop of the SDK: `attempt` again after a backoff while it fails in a retryable way,
 * at once after a RetryNow, until the attempts are spent (then the last failure is thrown).
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? ATTEMPTS;
  const retryable = options.retryable ?? isTransient;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const again = err instanceof RetryNow || retryable(err);
      if (n >= attempts || !again || options.signal?.aborted) throw err instanceof RetryNow ? err.reason : err;
      if (!(err instanceof RetryNow)) await sleep(backoff(n), undefined, options.signal && { signal: options.signal });
    }
  }
}
