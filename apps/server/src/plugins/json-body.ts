import { JSON_MAX_DEPTH } from "@methodic/contract";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { invalidRequest } from "../errors.js";

/** The characters that open or close a string, an array or an object. */
const STRUCTURAL = /["[\]{}]/g;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, read in one pass (no recursion, nothing
 * allocated), so that a body nested 10,000 deep is refused before anything parses, validates, stores
 * or serializes it. The regular expression and indexOf skip what cannot nest (numbers, whitespace,
 * the inside of strings) at native speed. Text that is not JSON may count wrong here: the parser
 * refuses it next.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  const structural = new RegExp(STRUCTURAL);
  let depth = 0;
  for (let match = structural.exec(text); match !== null; match = structural.exec(text)) {
    const c = match[0];
    if (c === '"') {
      // The closing quote: the next one that an even number of backslashes precedes.
      let end = match.index;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return false;
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      structural.lastIndex = end + 1;
    } else if (c === "[" || c === "{") {
      if (++depth > max) return true;
    } else depth--;
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
