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

/**
 * Checks bearer tokens. Tokens found in the database are cached for TOKEN_CACHE_TTL_MS, so the hot
 * routes cost no extra query; a revocation clears this instance's cache at once.
 */
export class Authenticator {
  private readonly cache = new LRUCache<string, Principal>({ max: 10_000, ttl: TOKEN_CACHE_TTL_MS });
  private readonly adminHash: Buffer | undefined;

  constructor(
    private readonly db: Db,
    adminToken: string | undefined,
  ) {
    this.adminHash = adminToken === undefined ? undefined : secretHash(adminToken);
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthorized("This route needs a token: send Authorization: Bearer <token>.");
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match?.[1]) throw unauthorized("The Authorization header must be: Bearer <token>.");
    const hash = secretHash(match[1]);
    if (this.adminHash && timingSafeEqual(hash, this.adminHash)) return { tokenId: null, scope: "admin" };

    const key = hash.toString("hex");
    const cached = this.cache.get(key);
    if (cached) return cached;
    const row = await q.findActiveTokenByHash(this.db, key);
    if (!row || !timingSafeEqual(Buffer.from(row.secretHash, "hex"), hash)) {
      throw unauthorized("The token is not valid: it is unknown or has been revoked.");
    }
    const principal = { tokenId: row.id, scope: row.scope };
    this.cache.set(key, principal);
    return principal;
  }

  authorize(principal: Principal, access: Access): void {
    if (!allows(principal.scope, access)) {
      throw forbidden(`This token has the ${principal.scope} scope; this route needs ${access}.`);
    }
  }

  async revoke(id: string): Promise<void> {
    if (!(await q.revokeToken(this.db, id))) throw new ApiError("not_found", `Token ${id} does not exist.`);
    for (const [key, principal] of this.cache.entries()) {
      if (principal.tokenId === id) this.cache.delete(key);
    }
  }
}
