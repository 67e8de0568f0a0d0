import { Command } from "commander";
import { registerAuth } from "./commands/auth.js";
import { registerBrowse } from "./commands/browse.js";
import { registerServe } from "./commands/serve.js";
import { registerTransfer } from "./commands/transfer.js";
import { chronicleFor } from "./context.js";

/** Every command of `methodic`. Parse errors throw (exitOverride) so that `main` picks the exit code. */
export function buildProgram(): Command {
  const program = new Command("methodic")
    .description("Chronicle, the run chronicle for machine-learning training, from the command line")
    .option("--url <url>", "the server (else METHODIC_URL, else the credentials file)")
    .option("--token <token>", "the API token (else METHODIC_TOKEN, else the credentials file)")
    .option("--verbose", "print stack traces with errors")
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .showSuggestionAfterError();

  registerServe(program);
  registerAuth(program);
  registerBrowse(program);
  registerTransfer(program);
  program
    .command("mcp")
    .description("serve Chronicle's tools to an agent over stdio (the Model Context Protocol)")
    .action(async (_options, command: Command) => {
      const { serveStdio } = await import("@methodic/mcp");
      await serveStdio({ chronicle: chronicleFor(command) });
    });
  return program;
}
