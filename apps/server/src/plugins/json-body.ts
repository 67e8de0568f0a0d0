import { JSON_MAX_DEPTH } from "@methodic/contract";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { invalidRequest } from "../errors.js";

/**
 * Whether JSON text nests arrays and objects deeper than `max`, read in one pass over its characters
 * (no recursion, nothing allocated), so that a body nested 10,000 deep is refused before anything
 * parses, validates, stores or serializes it. Text that is not JSON may count wrong here: the parser
 * refuses it next.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

const refused = (message: string) =>
  invalidRequest(`Invalid request: the body ${message}.`, { fields: [{ in: "body", path: "", message }] });

/**
 * JSON request bodies: Fastify's parser (which refuses `__proto__` keys), after the depth check. A
 * body of `null` is refused too: every body is an object, and a route whose body is optional takes
 * none at all rather than a null (which Fastify's validator could not tell from none).
 */
export const jsonBodyPlugin = fp(async (app: FastifyInstance) => {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body.toString();
    if (nestsDeeperThan(text, JSON_MAX_DEPTH)) {
      done(refused(`nests arrays and objects deeper than ${JSON_MAX_DEPTH} levels`), undefined);
      return;
    }
    parse(request, text, (err, value) => {
      if (!err && value === null) done(refused("is null: send a JSON object, or no body"), undefined);
      else done(err, value);
    });
  });
});
