import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { derivedErrors, ERROR_STATUS, type RouteDef, routes } from "./index.js";

/**
 * docs/api.md is the API reference in prose; this keeps it true to the contract. Its route tables have
 * one row per route, exactly `| METHOD | `/path/{param}` | scope | success | errors | retry |` (see
 * the reference's "Reading the route tables"), and its "## Error codes" section a table of
 * `| `code` | status | meaning |` rows. Rows inside fenced code blocks are examples and are not read.
 */
const DOC_PATH = fileURLToPath(new URL("../../../docs/api.md", import.meta.url));
const doc = readFileSync(DOC_PATH, "utf8");

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** The document's lines outside fenced code blocks, with their line numbers. */
function proseLines(text: string): { line: string; number: number }[] {
  let fenced = false;
  return text.split("\n").flatMap((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [{ line, number: i + 1 }];
  });
}

/** The cells of a markdown table row, trimmed; none of our route or error rows has a `|` inside a cell. */
const cellsOf = (line: string) =>
  line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((cell) => cell.trim());

interface DocRoute {
  method: string;
  path: string;
  scope: string;
  success: string;
  errors: string;
  retry: string;
  number: number;
}

/** Every table row whose first cell is a bare HTTP method; `malformed` holds those not in the row format. */
function docRoutes(): { rows: DocRoute[]; malformed: string[] } {
  const rows: DocRoute[] = [];
  const malformed: string[] = [];
  for (const { line, number } of proseLines(doc)) {
    if (!line.trim().startsWith("|")) continue;
    const cells = cellsOf(line);
    if (!METHODS.includes(cells[0] ?? "")) continue;
    const path = /^`(\/[^`\s]*)`$/.exec(cells[1] ?? "")?.[1];
    if (cells.length !== 6 || path === undefined) {
      malformed.push(`line ${number}: ${line}`);
      continue;
    }
    const [method, , scope, success, errors, retry] = cells as [string, string, string, string, string, string];
    rows.push({ method, path, scope, success, errors, retry, number });
  }
  return { rows, malformed };
}

/** The contract's path as the document writes it: `:param` becomes `{param}`. */
const docPathOf = (path: string) => path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
const keyOf = (method: string, path: string) => `${method} ${path}`;

const contract: [string, RouteDef][] = Object.entries(routes);
const { rows, malformed } = docRoutes();
const rowByKey = new Map(rows.map((row) => [keyOf(row.method, row.path), row]));

describe("docs/api.md route tables", () => {
  test("every route row is in the parseable form", () => {
    expect(malformed).toEqual([]);
    expect(rows.length).toBeGreaterThan(0);
  });

  test("every route of the contract is documented", () => {
    const missing = contract
      .map(([name, route]) => [name, keyOf(route.method, docPathOf(route.path))] as const)
      .filter(([, key]) => !rowByKey.has(key))
      .map(([name, key]) => `${name}: ${key}`);
    expect(missing).toEqual([]);
  });

  test("no route is documented that the contract does not have, and none twice", () => {
    const known = new Set(contract.map(([, route]) => keyOf(route.method, docPathOf(route.path))));
    const unknown = rows.filter((row) => !known.has(keyOf(row.method, row.path)));
    expect(unknown.map((row) => `line ${row.number}: ${row.method} ${row.path}`)).toEqual([]);
    const keys = rows.map((row) => keyOf(row.method, row.path));
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
  });

  test("each row gives the route's scope, success statuses, own error codes and retry safety", () => {
    const problems: string[] = [];
    for (const [name, route] of contract) {
      const row = rowByKey.get(keyOf(route.method, docPathOf(route.path)));
      if (!row) continue; // reported above
      const where = `${name} (line ${row.number})`;

      if (row.scope !== route.access) problems.push(`${where}: scope is ${route.access}, not ${row.scope}`);

      const byNumber = (a: number, b: number) => a - b;
      const statuses = /^(2\d\d(?:\/2\d\d)*)(?:\s|$)/.exec(row.success)?.[1]?.split("/").map(Number) ?? [];
      const successes = Object.keys(route.responses)
        .map(Number)
        .filter((status) => status < 300);
      if (statuses.sort(byNumber).join() !== successes.sort(byNumber).join()) {
        problems.push(`${where}: success statuses are ${successes.join("/")}, not '${row.success}'`);
      }

      const implied = new Set<string>(derivedErrors(route));
      const own = route.errors.filter((code) => !implied.has(code)).sort();
      const written = row.errors === "—" ? [] : row.errors.split(",").map((cell) => cell.trim());
      const codes = written.map((cell) => /^`([a-z_]+)`$/.exec(cell)?.[1] ?? `(not a code span: ${cell})`);
      if (codes.join() !== [...new Set(codes)].join() || [...codes].sort().join() !== own.join()) {
        problems.push(`${where}: own error codes are [${own.join(", ")}], not '${row.errors}'`);
      }

      const retry = route.idempotent === "with-key" ? "with key" : route.idempotent ? "yes" : "no";
      if (row.retry !== retry) problems.push(`${where}: retry is '${retry}', not '${row.retry}'`);
    }
    expect(problems).toEqual([]);
  });
});

describe("docs/api.md error codes", () => {
  /** The `| `code` | status | meaning |` rows of the "## Error codes" section. */
  function errorTable(): Map<string, number[]> {
    const lines = proseLines(doc);
    const start = lines.findIndex(({ line }) => /^## Error codes\s*$/.test(line));
    expect(start, "an '## Error codes' section").toBeGreaterThanOrEqual(0);
    const table = new Map<string, number[]>();
    for (const { line } of lines.slice(start + 1)) {
      if (/^## /.test(line)) break;
      const match = /^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
      if (match?.[1] && match[2]) table.set(match[1], [...(table.get(match[1]) ?? []), Number(match[2])]);
    }
    return table;
  }

  test("every code of ERROR_STATUS is in the table once, with its status", () => {
    const table = errorTable();
    const wrong = Object.entries(ERROR_STATUS)
      .filter(([code, status]) => table.get(code)?.join() !== String(status))
      .map(([code, status]) => `${code}: ${status}, documented as ${table.get(code)?.join(" and ") ?? "nothing"}`);
    expect(wrong).toEqual([]);
  });

  test("the table has no code the API does not answer with", () => {
    const unknown = [...errorTable().keys()].filter((code) => !(code in ERROR_STATUS));
    expect(unknown).toEqual([]);
  });
});
