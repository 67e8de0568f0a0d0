import { z } from "zod";
import { ListQuery, Name, Page, Timestamp } from "./common.js";
import { defineRoute } from "./route.js";

/** Scopes nest: admin ⊃ write ⊃ read. */
export const Scope = z.enum(["read", "write", "admin"]).meta({ id: "Scope" });
export type Scope = z.infer<typeof Scope>;

export const TokenId = z.uuid().describe("Token id (not the secret)");

export const Token = z
  .object({ id: TokenId, name: z.string(), scope: Scope, created_at: Timestamp })
  .meta({ id: "Token" });
export type Token = z.infer<typeof Token>;

export const CreatedToken = Token.extend({
  token: z.string().describe("The bearer secret: shown only in this answer"),
}).meta({ id: "CreatedToken" });
export type CreatedToken = z.infer<typeof CreatedToken>;

export const CreateTokenBody = z.strictObject({ name: Name, scope: Scope }).meta({ id: "CreateTokenBody" });
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const TokenPage = Page(Token).meta({ id: "TokenPage" });

const tag = "Tokens";

export const tokenRoutes = {
  createToken: defineRoute({
    method: "POST",
    path: "/v1/tokens",
    summary: "Create a token; its secret is shown only in this answer",
    tag,
    access: "admin",
    body: CreateTokenBody,
    responses: { 201: CreatedToken },
  }),
  listTokens: defineRoute({
    method: "GET",
    path: "/v1/tokens",
    summary: "List the tokens that are not revoked (never their secrets), newest first",
    tag,
    access: "admin",
    query: ListQuery,
    responses: { 200: TokenPage },
  }),
  revokeToken: defineRoute({
    method: "DELETE",
    path: "/v1/tokens/:id",
    summary: "Revoke a token: it fails at once here and within 5 seconds on every other server instance",
    tag,
    access: "admin",
    params: z.strictObject({ id: TokenId }),
    responses: { 204: z.null().describe("Revoked") },
    errors: ["not_found"],
  }),
};
