import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * The Content-Security-Policy of the HTML pages the server serves (the API docs, the dashboard):
 * scripts, styles, fonts and API calls from this server only, images also inline, no plugins, never
 * framed, forms posting nowhere else.
 */
export const HTML_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Headers every answer carries: `x-content-type-options: nosniff`, so that no browser reads an answer
 * as something its Content-Type does not say, and HTML_CONTENT_SECURITY_POLICY on every HTML page
 * (a page that needs another policy sets its own header, which is left alone).
 */
export const securityHeadersPlugin = fp(async (app: FastifyInstance) => {
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    const type = reply.getHeader("content-type");
    if (typeof type === "string" && /^text\/html\b/i.test(type) && !reply.hasHeader("content-security-policy")) {
      reply.header("content-security-policy", HTML_CONTENT_SECURITY_POLICY);
    }
    return payload;
  });
});
