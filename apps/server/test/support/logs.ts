/** A pino destination that keeps every line, for tests that read what the server logged. */
export function captureLogs() {
  const lines: string[] = [];
  return {
    stream: { write: (line: string) => lines.push(line) },
    text: () => lines.join(""),
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
