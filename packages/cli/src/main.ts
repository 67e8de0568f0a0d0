import { ValidationError } from "@methodic/sdk";
import { CommanderError } from "commander";
import { UsageError } from "./errors.js";
import { printLine } from "./output.js";
import { buildProgram } from "./program.js";

/** Exit codes: 0 success, 1 failure, 2 usage error. */
async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has printed its own message (or the help, or the version) already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const verbose = argv.includes("--verbose");
    // The message may be the server's: its control characters are escaped like any server text.
    printLine(`methodic: ${err instanceof Error ? err.message : String(err)}`, process.stderr);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // A request the API refused as invalid was a bad invocation too.
    return err instanceof UsageError || err instanceof ValidationError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv);
