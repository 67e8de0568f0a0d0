import { createHash, randomBytes } from "node:crypto";

/** A recognisable prefix lets secret scanners find leaked tokens. */
const TOKEN_PREFIX = "mth_";

/** A new bearer token: the prefix and 32 random bytes. */
export function newSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** What the database keeps of a token, and what a presented one is checked by. */
export function secretHash(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}
