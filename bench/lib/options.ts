import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { DatabaseDriver, StorageDriver } from "@methodic/server/testing";

/** A bad option: the benchmark prints its usage and exits 2. */
export class UsageError extends Error {}

/**
 * One option of a benchmark, as its table declares it: `--name <value>` in the usage, and how the
 * text given (undefined when the option is absent) becomes its value. `smoke` is whether `--smoke` was
 * given, for the options whose default is smaller then.
 */
export interface Option<T> {
  /** What follows the flag in the usage, such as `<MiB>` or `local|s3|both`. */
  value: string;
  /** The usage's line for it; `\n` starts another line, under the first. */
  help: string;
  read(text: string | undefined, smoke: boolean, flag: string): T;
}

export type OptionTable = Record<string, Option<unknown>>;

/** The values of a table's options, and of the options every benchmark takes. */
export type Values<T extends OptionTable> = { [K in keyof T]: T[K] extends Option<infer V> ? V : never } & {
  /** Where the JSON document goes; unset, it is printed after the tables. */
  json: string | undefined;
  smoke: boolean;
};

/** `--size` from `size`, `--part-size` from `partSize`. */
export const flagOf = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

type Default<T> = T | (() => T);
const resolveDefault = <T>(value: Default<T>): T => (typeof value === "function" ? (value as () => T)() : value);

/**
 * A whole number of at least `min` (1 unless told). `smoke` is its default under `--smoke`; `shown`
 * describes a default that is computed (the usage shows the number otherwise).
 */
export function integer(spec: {
  help: string;
  default: Default<number>;
  smoke?: number;
  min?: number;
  value?: string;
  shown?: string;
}): Option<number> {
  const min = spec.min ?? 1;
  const shown = spec.shown ?? `${spec.default}${spec.smoke === undefined ? "" : `; ${spec.smoke} with --smoke`}`;
  return {
    value: spec.value ?? "<n>",
    help: `${spec.help} (default ${shown})`,
    read(text, smoke, flag) {
      if (text === undefined) return smoke && spec.smoke !== undefined ? spec.smoke : resolveDefault(spec.default);
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) {
        throw new UsageError(
          min === 1
            ? `--${flag} must be a positive integer, not ${text}`
            : `--${flag} must be an integer >= ${min}, not ${text}`,
        );
      }
      return n;
    },
  };
}

/** One of some words. */
export function choice<const C extends string>(choices: readonly C[], spec: { help: string; default: C }): Option<C> {
  return {
    value: choices.join("|"),
    help: `${spec.help} (default ${spec.default})`,
    read(text = spec.default, _smoke, flag) {
      if (!choices.includes(text as C)) throw new UsageError(`--${flag} must be ${words(choices)}, not ${text}`);
      return text as C;
    },
  };
}

/** Some of some words, comma-separated, each once, in the order given; `help` names the words. */
export function list<const C extends string>(
  choices: readonly C[],
  spec: { help: string; default?: C[] },
): Option<C[]> {
  return {
    value: "<list>",
    help: `${spec.help} (default ${spec.default ? spec.default.join(",") : "all"})`,
    read(text, _smoke, flag) {
      if (text === undefined) return [...(spec.default ?? choices)];
      const items = [...new Set(text.split(",").map((item) => item.trim()))];
      const unknown = items.filter((item) => !choices.includes(item as C));
      if (unknown.length > 0) throw new UsageError(`--${flag} takes ${choices.join(",")}, not ${unknown.join(",")}`);
      return items as C[];
    },
  };
}

/** pnpm runs the script in bench/; a relative path is meant from where the command was typed. */
const fromWhereTyped = (text: string | undefined) => text && resolve(process.env.INIT_CWD ?? process.cwd(), text);

/** A file or directory to write. */
export function path(spec: { help: string; value?: string }): Option<string | undefined> {
  return { value: spec.value ?? "<file>", help: spec.help, read: fromWhereTyped };
}

/** `--storage local|s3|both`: the drivers, each measured on a server of its own. */
export function storages(): Option<StorageDriver[]> {
  const option = choice(["local", "s3", "both"], { help: "storage driver(s)", default: "both" });
  return {
    ...option,
    read: (text, smoke, flag) => {
      const value = option.read(text, smoke, flag);
      return value === "both" ? ["local", "s3"] : [value];
    },
  };
}

/**
 * `--database pglite|postgres`. Unset, it is PostgreSQL if TEST_DATABASE_URL names a server (the
 * harness creates and drops a database of its own there), else PGlite.
 */
export function database(): Option<DatabaseDriver> {
  const option = databases({ both: false });
  return { ...option, read: (text, smoke, flag) => option.read(text, smoke, flag)[0]! };
}

/** `--database pglite|postgres|both`; unset, `whenPostgres` if TEST_DATABASE_URL is set, else PGlite. */
export function databases(spec: { both?: boolean; whenPostgres?: "postgres" | "both" } = {}): Option<DatabaseDriver[]> {
  const { both = true, whenPostgres = "postgres" } = spec;
  const allowed = both ? ["pglite", "postgres", "both"] : ["pglite", "postgres"];
  return {
    value: allowed.join("|"),
    help: `default ${whenPostgres} when TEST_DATABASE_URL is set, else pglite`,
    read(text, _smoke, flag) {
      const value = text ?? (process.env.TEST_DATABASE_URL ? whenPostgres : "pglite");
      if (!allowed.includes(value)) throw new UsageError(`--${flag} must be ${words(allowed)}, not ${value}`);
      const drivers: DatabaseDriver[] = value === "both" ? ["postgres", "pglite"] : [value as DatabaseDriver];
      if (drivers.includes("postgres") && !process.env.TEST_DATABASE_URL) {
        throw new UsageError(`--${flag} postgres needs TEST_DATABASE_URL (postgres://user@host:port/any-database)`);
      }
      return drivers;
    },
  };
}

const words = (items: readonly string[]) =>
  items.length <= 2 ? items.join(" or ") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;

/** What a benchmark tells its usage: its name, its options, and what `--smoke` makes small. */
export interface OptionsSpec<T extends OptionTable> {
  name: string;
  options: T;
  /** What --smoke does, before ": seconds, for CI". */
  smoke: string;
}

export function usageOf(spec: OptionsSpec<OptionTable>): string {
  const lines: [string, string][] = [
    ...Object.entries(spec.options).map(([key, option]): [string, string] => [
      `--${flagOf(key)} ${option.value}`,
      option.help,
    ]),
    ["--json <file>", "write the JSON document there instead of printing it"],
    ["--smoke", `${spec.smoke}: seconds, for CI`],
    ["--help", "this text"],
  ];
  const width = Math.max(...lines.map(([flag]) => flag.length)) + 2;
  const body = lines.flatMap(([flag, help]) =>
    help.split("\n").map((line, i) => `  ${(i === 0 ? flag : "").padEnd(width)}${line}`),
  );
  return [`usage: pnpm --filter @methodic/bench ${spec.name} [options]`, ...body].join("\n");
}

/**
 * Reads the command line (`pnpm run <bench> -- --size 1` passes the "--" on): every option of the
 * table, `--json`, `--smoke`, and `--help` (answered as undefined: the caller prints the usage).
 */
export function parseOptions<T extends OptionTable>(spec: OptionsSpec<T>, argv: string[]): Values<T> | undefined {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const flags = Object.keys(spec.options).map((key) => [key, flagOf(key)] as const);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        ...Object.fromEntries(flags.map(([, flag]) => [flag, { type: "string" as const }])),
        json: { type: "string" },
        smoke: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    // parseArgs' own complaints (an unknown option, a missing value) are usage errors too.
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  const smoke = values.smoke === true;
  const read = flags.map(([key, flag]) => [
    key,
    spec.options[key]!.read(values[flag] as string | undefined, smoke, flag),
  ]);
  return {
    ...Object.fromEntries(read),
    json: fromWhereTyped(values.json as string | undefined),
    smoke,
  } as Values<T>;
}
