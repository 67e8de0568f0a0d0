import { Chronicle, credentialsPath, saveCredentials } from "@methodic/sdk";
import { type Command, Option } from "commander";
import { chronicleFor, type GlobalOptions } from "../context.js";
import { UsageError } from "../errors.js";
import { printJson, printLine, printTable, when } from "../output.js";

export function registerAuth(program: Command): void {
  program
    .command("login")
    .summary("check a server and token, and store them for later commands")
    .description(`check a server and token, and store them in ${credentialsPath()}`)
    .action(async (_options, command: Command) => {
      const { url, token } = command.optsWithGlobals<GlobalOptions>();
      if (!url || !token) throw new UsageError("login needs both --url and --token.");
      const chronicle = new Chronicle({ baseUrl: url, token });
      // Any read proves the pair works; a bad token is an AuthError here rather than later.
      await chronicle.listExperiments().page({ limit: 1 });
      const path = await saveCredentials({ url: chronicle.baseUrl, token });
      process.stdout.write(`Logged in to ${chronicle.baseUrl}; credentials saved to ${path}\n`);
    });

  const token = program.command("token").description("create, list and revoke API tokens (needs an admin token)");
  token
    .command("create")
    .description("create a token; its secret is printed once, here")
    .requiredOption("--name <name>", "what it is for, as 'gpu-box-3 trainer'")
    .addOption(
      new Option("--scope <scope>", "read: browse; write: record runs and upload; admin: tokens too")
        .choices(["read", "write", "admin"])
        .default("write"),
    )
    .option("--json", "print the created token as JSON")
    .action(async (options, command: Command) => {
      const created = await chronicleFor(command).createToken({ name: options.name, scope: options.scope });
      if (options.json) printJson(created);
      else {
        printLine(created.token);
        printLine(`Created ${created.scope} token ${created.id}. Its secret is shown only this once.`, process.stderr);
      }
    });
  token
    .command("list")
    .alias("ls")
    .description("list the tokens that are not revoked (never their secrets)")
    .option("--json", "print one JSON array")
    .action(async (options, command: Command) => {
      const items = await chronicleFor(command).listTokens().all();
      if (options.json) printJson(items);
      else
        printTable(items, {
          ID: (t) => t.id,
          NAME: (t) => t.name,
          SCOPE: (t) => t.scope,
          CREATED: (t) => when(t.created_at),
        });
    });
  token
    .command("revoke")
    .description("revoke a token by its id")
    .argument("<id>")
    .action(async (id: string, _options, command: Command) => {
      await chronicleFor(command).revokeToken(id);
      printLine(`Revoked token ${id}`);
    });
}
