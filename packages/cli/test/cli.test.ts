import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Chronicle } from "@methodic/sdk";
import {
  ADMIN_TOKEN,
  createDatabase,
  driversUnderTest,
  startS3,
  type TestDatabase,
  type TestS3,
} from "@methodic/server/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { methodic, resultOf, run } from "./support.js";

const MiB = 1024 * 1024;
let root: string;
let env: NodeJS.ProcessEnv;
let server: ReturnType<typeof methodic>;
let url: string;
let adminToken: string;
let admin: Chronicle;

/** What the REST API answers, every page of a list gathered: what `--json` must print. */
async function rest(path: string): Promise<unknown> {
  const get = async (target: string) => {
    const res = await fetch(`${url}${target}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as { items?: unknown[]; next_cursor?: string | null };
  };
  const first = await get(path);
  if (!Array.isArray(first.items)) return first;
  const items = [...first.items];
  for (let cursor = first.next_cursor; cursor; ) {
    const page = await get(`${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}`);
    items.push(...(page.items ?? []));
    cursor = page.next_cursor;
  }
  return items;
}

/** A regular expression source that matches `text` as it is. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const drivers = driversUnderTest();
let backends: { database?: TestDatabase; s3?: TestS3 } = {};

/**
 * `methodic serve` on the drivers under test: the embedded default, or PostgreSQL and S3 (MinIO)
 * through the environment a deployment would give it (with a bootstrap admin token, as there is no
 * data dir to generate one in).
 */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "methodic-cli-"));
  backends = {
    ...(drivers.database === "postgres" && { database: await createDatabase() }),
    ...(drivers.storage === "s3" && { s3: await startS3() }),
  };
  env = {
    HOME: join(root, "home"),
    XDG_CONFIG_HOME: join(root, "config"),
    XDG_STATE_HOME: join(root, "state"),
    ...(backends.database && { DATABASE_URL: backends.database.url, METHODIC_ADMIN_TOKEN: ADMIN_TOKEN }),
    ...backends.s3?.env,
  };
  server = methodic(["serve", "--port", "0", "--data-dir", join(root, "data")], env);
  url = (await server.waitFor(/serving at (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  await server.waitFor(/Press Ctrl-C to stop/);
  adminToken = backends.database ? ADMIN_TOKEN : (await readFile(join(root, "data", "admin-token"), "utf8")).trim();
  admin = new Chronicle({ baseUrl: url, token: adminToken });
});

afterAll(async () => {
  const { code } = await server.stop("SIGTERM");
  expect(code).toBe(0);
  await backends.s3?.close();
  await backends.database?.drop();
  await rm(root, { recursive: true, force: true });
});

describe("serve and tokens", () => {
  test("serve writes the credentials file with a write token, never the admin token", async () => {
    const path = join(root, "config", "methodic", "credentials.json");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(path, "utf8")) as { url: string; token: string };
    expect(saved.url).toBe(url);
    expect(saved.token).toMatch(/^mth_/);
    expect(saved.token).not.toBe(adminToken);
    const tokens = await admin.listTokens().all();
    expect(tokens.find((t) => t.name.startsWith("methodic serve on"))?.scope).toBe("write");
    // Every later command finds the server and token there.
    const { code, stdout } = await run(["experiments", "ls", "--json"], env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([]);
  });

  test("token create, list and revoke with an admin token; a revoked token is refused with the API's message", async () => {
    const asAdmin = ["--token", adminToken];
    const created = await run([...asAdmin, "token", "create", "--name", "ci reader", "--scope", "read", "--json"], env);
    expect(created.code).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string; scope: string };
    expect(token.scope).toBe("read");

    const listed = await run([...asAdmin, "token", "list", "--json"], env);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((t) => t.id)).toContain(token.id);
    const table = await run([...asAdmin, "token", "list"], env);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+SCOPE\s+CREATED$/m);
    expect(table.stdout).toMatch(new RegExp(`^${token.id}\\s+ci reader\\s+read\\s`, "m"));

    // The write token in the credentials file may not manage tokens.
    const refused = await run(["token", "list"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);

    expect((await run([...asAdmin, "token", "revoke", token.id], env)).code).toBe(0);
    const revoked = await run(["--token", token.token, "experiments", "ls"], env);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toBe("methodic: The token is not valid: it is unknown or has been revoked.\n");
  });

  test("login checks the token before it stores it", async () => {
    const other = { ...env, XDG_CONFIG_HOME: join(root, "other-config") };
    const bad = await run(["login", "--url", url, "--token", "mth_wrong"], other);
    expect(bad.code).toBe(1);
    await expect(stat(join(root, "other-config", "methodic", "credentials.json"))).rejects.toThrow();
    const good = await run(["login", "--url", url, "--token", adminToken], other);
    expect(good.code).toBe(0);
    const saved = JSON.parse(await readFile(join(root, "other-config", "methodic", "credentials.json"), "utf8"));
    expect(saved).toEqual({ url, token: adminToken });
    expect((await run(["login", "--url", url], other)).code).toBe(2);
  });
});

describe("browsing", () => {
  beforeAll(async () => {
    const created = await run(
      ["experiments", "create", "browse", "--wandb-project", "ripple", "--config", '{"lr":0.1}'],
      env,
    );
    expect(created.code).toBe(0);
    for (const [variation, index] of [
      ["a", 0],
      ["a", 1],
      ["b", 0],
    ] as const) {
      const handle = admin.run("browse", variation, index);
      await handle.start({ wandb_run_id: `w${index}`, wandb_entity: "team" });
      await handle.uploadAsset({ asset_type: "checkpoint", content: { variation, index } });
      if (index === 1) await handle.succeed();
    }
  });

  test.each([
    [["experiments", "ls"], "/v1/experiments"],
    [["experiments", "show", "browse"], "/v1/experiments/browse"],
    [["variations", "ls", "browse"], "/v1/experiments/browse/variations"],
    [["runs", "ls", "browse"], "/v1/experiments/browse/runs"],
    [["runs", "ls", "browse", "a", "--state", "succeeded"], "/v1/experiments/browse/variations/a/runs?state=succeeded"],
    [["runs", "show", "browse", "a", "1"], "/v1/experiments/browse/variations/a/runs/1"],
    [["outputs", "ls", "browse", "a"], "/v1/experiments/browse/variations/a/outputs"],
    [
      ["outputs", "ls", "browse", "a", "--run", "0", "--type", "checkpoint"],
      "/v1/experiments/browse/variations/a/outputs?run=0&asset_type=checkpoint",
    ],
    [
      ["outputs", "latest", "browse", "b", "--type", "checkpoint"],
      "/v1/experiments/browse/variations/b/outputs/latest?asset_type=checkpoint",
    ],
  ])("%j --json prints what %s answers", async (args, path) => {
    const { code, stdout } = await run([...args, "--json"], env);
    expect(code).toBe(0);
    let expected = await rest(path);
    if (path.includes("/latest")) expected = (expected as { asset: unknown }).asset;
    expect(JSON.parse(stdout)).toEqual(expected);
  });

  test("lists print as tables, and --json follows every page", async () => {
    const runs = await run(["runs", "ls", "browse"], env);
    expect(runs.stdout).toMatch(/^RUN\s+STATE\s+STARTED\s+FINISHED\s+LAST HEARTBEAT\s+W&B$/m);
    expect(runs.stdout).toMatch(/^a\/1\s+succeeded\s.*https:\/\/wandb\.ai\/team\/ripple\/runs\/w1$/m);
    const variations = await run(["variations", "ls", "browse"], env);
    expect(variations.stdout).toMatch(/^a\s+1 running, 1 succeeded\s/m);

    for (let i = 0; i < 105; i++) await admin.createExperiment({ id: `page-${String(i).padStart(3, "0")}` });
    const all = JSON.parse((await run(["experiments", "ls", "--json"], env)).stdout) as { id: string }[];
    expect(all.filter((e) => e.id.startsWith("page-"))).toHaveLength(105);
  });

  test("control characters from the server are escaped in tables and records; --json prints them exactly", async () => {
    // Escape sequences that would clear the screen, retitle the window and recolour the text, a line
    // that would pass for a row of its own, and a mark that reverses what follows.
    const name = "evil\u001b[2J\u001b]0;owned\u0007\nghost  row\r\u009b31m\u202edone\ttab";
    await admin.createExperiment({ id: "controls", name });
    const shown = "evil\\x1b[2J\\x1b]0;owned\\x07\\nghost  row\\r\\x9b31m\\u202edone\\ttab";
    /** The characters of a printout that a terminal would act on (line breaks aside). */
    const controls = (text: string) =>
      [...text].filter((c) => c !== "\n" && (c < " " || (c >= "\u007f" && c <= "\u009f") || c === "\u202e"));

    const table = await run(["experiments", "ls"], env);
    expect(table.code).toBe(0);
    expect(controls(table.stdout)).toEqual([]);
    const row = table.stdout.split("\n").find((line) => line.startsWith("controls "));
    expect(row).toMatch(new RegExp(`^controls +${literal(shown)} `));
    expect(table.stdout).not.toMatch(/^ghost/m);

    const record = await run(["experiments", "show", "controls"], env);
    expect(controls(record.stdout)).toEqual([]);
    expect(record.stdout).toMatch(new RegExp(`^name +${literal(shown)}$`, "m"));

    const json = await run(["experiments", "show", "controls", "--json"], env);
    expect(JSON.parse(json.stdout).name).toBe(name);
  });

  test("inputs link, ls and unlink", async () => {
    const [checkpoint] = await admin.listOutputs("browse", { variation: "a", run: 0 }).all();
    const linked = await run(["inputs", "link", "browse", "b", checkpoint!.id], env);
    expect(linked.code).toBe(0);
    expect(linked.stdout).toContain(`linked checkpoint ${checkpoint!.id} as an input of browse/b`);
    const listed = JSON.parse((await run(["inputs", "ls", "browse", "b", "--json"], env)).stdout) as { id: string }[];
    expect(listed.map((a) => a.id)).toEqual([checkpoint!.id]);
    expect(JSON.parse((await run(["inputs", "ls", "browse", "b", "--json"], env)).stdout)).toEqual(
      await rest("/v1/experiments/browse/variations/b/inputs"),
    );
    expect((await run(["inputs", "unlink", "browse", "b", checkpoint!.id], env)).code).toBe(0);
    expect(JSON.parse((await run(["inputs", "ls", "browse", "b", "--json"], env)).stdout)).toEqual([]);
  });
});

describe("upload and download", () => {
  let dir: string;

  beforeAll(async () => {
    await admin.createExperiment({ id: "transfer" });
    await admin.run("transfer", "base", 0).start();
    dir = join(root, "checkpoint");
    await mkdir(join(dir, "optimizer"), { recursive: true });
    await writeFile(join(dir, "model.bin"), randomBytes(160 * MiB)); // 32 parts of 5 MiB
    await writeFile(join(dir, "optimizer", "state.bin"), randomBytes(3 * MiB + 5));
    await writeFile(join(dir, "config.json"), '{"step": 40}');
  });

  test("an upload interrupted with Ctrl-C resumes the same asset when run again; download is byte-identical", async () => {
    const args = [
      ...["upload", dir, "--run", "transfer/base/0", "--type", "checkpoint", "--name", "step-40"],
      ...["--part-size", "5"],
    ];
    const first = methodic([...args, "--concurrency", "1"], env);
    const assetId = (await first.waitFor(/uploading (\S+): /))[1]!;
    await sleep(400);
    await first.stop("SIGINT");
    const interrupted = await resultOf(first);
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain("interrupted: run the same command again to resume the upload.");
    expect((await admin.getAsset(assetId)).state).toBe("pending");

    const second = await run([...args, "--json"], env);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`resuming the interrupted upload of asset ${assetId}`);
    const asset = JSON.parse(second.stdout) as { id: string; state: string; size: number };
    expect(asset).toMatchObject({ id: assetId, state: "ready", size: 163 * MiB + 5 + 12 });
    // Not a TTY here: plain progress lines with bytes, rate and ETA.
    expect(second.stderr).toMatch(/uploading \S+: [\d.]+ MiB of 163 MiB \(\d+%\), [\d.]+ \w?i?B\/s/);

    const listed = await run(["outputs", "ls", "transfer", "base", "--json"], env);
    expect(JSON.parse(listed.stdout)).toEqual(await rest("/v1/experiments/transfer/variations/base/outputs"));

    const target = join(root, "downloaded");
    const downloaded = await run(["download", assetId, target], env);
    expect(downloaded.code).toBe(0);
    for (const path of ["model.bin", "optimizer/state.bin", "config.json"]) {
      expect(await sha256(join(target, path)), path).toBe(await sha256(join(dir, path)));
    }

    // Uploading the finished directory again answers the same ready asset.
    const again = await run([...args, "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: assetId, state: "ready" });
  });

  test("upload neither starts nor ends runs: a missing or finished run is refused with the reason", async () => {
    const missing = await run(["upload", dir, "--run", "transfer/base/7", "--type", "checkpoint"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "methodic: run transfer/base/7 does not exist: a trainer starts runs, and upload only adds to them.\n",
    );
    await admin.run("transfer", "done", 0).start();
    await admin.run("transfer", "done", 0).succeed();
    const finished = await run(["upload", dir, "--run", "transfer/done/0", "--type", "checkpoint"], env);
    expect(finished.code).toBe(1);
    expect(finished.stderr).toBe("methodic: run transfer/done/0 has succeeded: uploads go to running or lost runs.\n");
  });
});

describe("exit codes and errors", () => {
  test.each([
    [["no-such-command"]],
    [["runs", "ls"]],
    [["upload", ".", "--run", "not-a-run", "--type", "checkpoint"]],
    [["upload", "/no/such/dir", "--run", "e/v/0", "--type", "checkpoint"]],
    [["experiments", "create", "x", "--config", "{not json"]],
    [["experiments", "create", "has space"]],
    [["runs", "ls", "browse", "--state", "sleeping"]],
    [["runs", "show", "browse", "a", "-1"]],
  ])("%j is a usage error: exit 2", async (args) => {
    const { code, stderr } = await run(args, env);
    expect(code).toBe(2);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  test("an API error prints the API's message on one line, the stack only with --verbose", async () => {
    const quiet = await run(["experiments", "show", "nope"], env);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toBe("methodic: Experiment 'nope' does not exist.\n");
    const verbose = await run(["--verbose", "experiments", "show", "nope"], env);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/^\s+at /m);
  });

  test("--help on every command exits 0", async () => {
    for (const args of [
      ["--help"],
      ["upload", "--help"],
      ["outputs", "latest", "--help"],
      ["token", "create", "--help"],
    ]) {
      const { code, stdout } = await run(args, env);
      expect(code, args.join(" ")).toBe(0);
      expect(stdout).toContain("Usage: methodic");
    }
  });

  test("an unreachable server is a one-line failure", async () => {
    const { code, stderr } = await run(["--url", "http://127.0.0.1:9", "--token", "x", "experiments", "ls"], env);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^methodic: /);
  });
});
