import { isIPv6 } from "node:net";
import { LRUCache } from "lru-cache";

export interface FailureLimits {
  /** Failures an address may have in a row before it is limited. */
  burst: number;
  /** How fast its allowance comes back, in failures per second. */
  refillPerS: number;
}

/** 30 failed authentications at once, then one every 2 seconds. */
export const FAILED_AUTH_LIMITS: FailureLimits = { burst: 30, refillPerS: 0.5 };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The client a failure is charged to: its IPv4 address, or the /64 network of an IPv6 one (a single
 * host commonly has a whole /64 to pick addresses from).
 */
export function clientKey(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4?.[1]) return v4[1];
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/**
 * Token buckets of failures per client, in memory (per server instance). A client spends one for each
 * failure and gets them back at `refillPerS`; with none left it is limited until one comes back.
 * Spending happens before the work a failure costs, so that concurrent attempts cannot all pass an
 * empty bucket; work that turns out well gives its token back.
 */
export class FailureLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly limits: FailureLimits = FAILED_AUTH_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    // A bucket unused for long enough to be full again is the same as none: it may be forgotten.
    const fullAfterMs = Math.ceil((limits.burst / limits.refillPerS) * 1000);
    this.buckets = new LRUCache({ max: 50_000, ttl: fullAfterMs });
  }

  /** Spends one of the client's allowance: undefined if it had one, else the seconds until it has. */
  take(address: string): number | undefined {
    const key = clientKey(address);
    const bucket = this.current(key);
    if (bucket.tokens >= 1) {
      this.buckets.set(key, { tokens: bucket.tokens - 1, at: bucket.at });
      return undefined;
    }
    this.buckets.set(key, bucket);
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.limits.refillPerS));
  }

  /** Gives back what `take` spent, for work that did not fail after all. */
  refund(address: string): void {
    const key = clientKey(address);
    const bucket = this.current(key);
    this.buckets.set(key, { tokens: Math.min(this.limits.burst, bucket.tokens + 1), at: bucket.at });
  }

  private current(key: string): Bucket {
    const at = this.now();
    const bucket = this.buckets.get(key);
    if (!bucket) return { tokens: this.limits.burst, at };
    const tokens = Math.min(this.limits.burst, bucket.tokens + ((at - bucket.at) / 1000) * this.limits.refillPerS);
    return { tokens, at };
  }
}
