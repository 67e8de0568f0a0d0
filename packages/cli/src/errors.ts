/** Bad invocation: exit code 2, like a commander parse error. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure explained in the message, with nothing more to show (no stack). */
export class Failure extends Error {
  override name = "Failure";
}
