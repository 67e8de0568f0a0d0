import { timingSafeEqual } from "node:crypto";
import {
  type Access,
  type CreatedToken,
  type CreateTokenBody,
  type ListQuery,
  type Page,
  type Scope,
  type Token,
  TokenId,
} from "@methodic/contract";
import { LRUCache } from "lru-cache";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "../db/client.js";
import * as q from "../db/queries/tokens.js";
import { ApiError, forbidden, unauthorized } from "../errors.js";
import { decodeCursor, toPage } from "../lib/cursor.js";
import { FailureLimiter } from "../lib/failure-limiter.js";
import { newSecret, secretHash } from "../lib/secrets.js";

/** How long another server instance may still accept a token revoked elsewhere. */
export const TOKEN_CACHE_TTL_MS = 5_000;

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

/** Scopes nest: admin ⊃ write ⊃ read. */
function allows(scope: Scope, access: Access): boolean {
  return access === "none" || RANK[scope] >= RANK[access];
}

export interface Principal {
  /** Null for the bootstrap admin token, which lives in configuration, not in the database. */
  tokenId: string | null;
  scope: Scope;
}

function toToken(row: q.TokenRow): Token {
  return { id: row.id, name: row.name, scope: row.scope, created_at: row.createdAt.toISOString() };
}

const invalidToken = () => unauthorized("The token is not valid: it is unknown or has been revoked.");

const rateLimited = (retryAfterS: number) =>
  new ApiError(
    "rate_limited",
    `Too many failed authentications from this address; try again in ${retryAfterS} s.`,
    undefined,
    { "retry-after": String(retryAfterS) },
  );

export async function createToken(db: Db, body: CreateTokenBody): Promise<CreatedToken> {
  const secret = newSecret();
  const row = await q.insertToken(db, {
    id: uuidv7(),
    name: body.name,
    scope: body.scope,
    secretHash: secretHash(secret).toString("hex"),
  });
  return { ...toToken(row), token: secret };
}

export async function listTokens(db: Db, query: ListQuery): Promise<Page<Token>> {
  const page = await q.listActiveTokens(db, query.limit, decodeCursor(query.cursor, [TokenId]));
  return toPage(page, (row) => [row.createdAt, row.id], toToken);
}

/** How long a presented secret the database does not know is refused without asking it again. */
const UNKNOWN_CACHE_TTL_MS = 10 * 60_000;

/** How long after its last check a valid token still passes while its address is limited. */
const KNOWN_TTL_MS = 10 * 60_000;

interface Known {
  principal: Principal;
  checkedAt: number;
}

/**
 * Checks bearer tokens. A token found in the database is trusted for TOKEN_CACHE_TTL_MS, so the hot
 * routes cost no extra query; a revocation clears this instance's cache at once. A secret the
 * database does not know is remembered too, so that repeating it costs no query either (a secret
 * unknown once never becomes valid: new ones are random). Failures are limited per client address
 * (see FailureLimiter): a limited client's unknown secrets are refused with 429 without a query,
 * while a token that passed here recently is still checked and accepted, whatever its address did.
 */
export class Authenticator {
  private readonly known = new LRUCache<string, Known>({ max: 10_000, ttl: KNOWN_TTL_MS });
  private readonly unknown = new LRUCache<string, true>({ max: 10_000, ttl: UNKNOWN_CACHE_TTL_MS });
  private readonly adminHash: Buffer | undefined;

  constructor(
    private readonly db: Db,
    adminToken: string | undefined,
    private readonly failures: FailureLimiter = new FailureLimiter(),
  ) {
    this.adminHash = adminToken === undefined ? undefined : secretHash(adminToken);
  }

  /** The principal of an Authorization header sent from `address`; throws 401, or 429 for a limited address. */
  async authenticate(authorization: string | undefined, address: string): Promise<Principal> {
    if (!authorization) throw unauthorized("This route needs a token: send Authorization: Bearer <token>.");
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match?.[1]) throw unauthorized("The Authorization header must be: Bearer <token>.");
    const hash = secretHash(match[1]);
    if (this.adminHash && timingSafeEqual(hash, this.adminHash)) return { tokenId: null, scope: "admin" };

    const key = hash.toString("hex");
    const known = this.known.get(key);
    if (known && Date.now() - known.checkedAt < TOKEN_CACHE_TTL_MS) return known.principal;
    // A token that passed recently is looked up again (it may have been revoked elsewhere) without
    // spending its address's allowance: only failures are limited.
    const retryAfterS = known ? undefined : this.failures.take(address);
    if (retryAfterS !== undefined) throw rateLimited(retryAfterS);
    if (this.unknown.has(key)) throw invalidToken();
    const row = await q.findActiveTokenByHash(this.db, key).catch((err: unknown) => {
      if (!known) this.failures.refund(address);
      throw err;
    });
    if (!row || !timingSafeEqual(Buffer.from(row.secretHash, "hex"), hash)) {
      this.known.delete(key);
      this.unknown.set(key, true);
      if (known) this.failures.take(address);
      throw invalidToken();
    }
    if (!known) this.failures.refund(address);
    const principal = { tokenId: row.id, scope: row.scope };
    this.known.set(key, { principal, checkedAt: Date.now() });
    return principal;
  }

  authorize(principal: Principal, access: Access): void {
    if (!allows(principal.scope, access)) {
      throw forbidden(`This token has the ${principal.scope} scope; this route needs ${access}.`);
    }
  }

  async revoke(id: string): Promise<void> {
    if (!(await q.revokeToken(this.db, id))) throw new ApiError("not_found", `Token ${id} does not exist.`);
    for (const [key, known] of this.known.entries()) {
      if (known.principal.tokenId === id) this.known.delete(key);
    }
  }
}
