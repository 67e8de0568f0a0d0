/** RFC 8187's attr-char: what a `filename*` value may hold without percent-encoding. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

/**
 * `Content-Disposition: attachment` for a download of a component, named by the last segment of its
 * path (RFC 6266): an ASCII `filename` for old clients, and the exact name in `filename*` as UTF-8
 * percent-encoded byte by byte (RFC 8187). The value is plain ASCII whatever the path holds, so no
 * character of a path can end the header or add a parameter.
 */
export function attachment(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  let encoded = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const char = String.fromCharCode(byte);
    encoded += ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
