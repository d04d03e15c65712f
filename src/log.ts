// Structured logs: one JSON object per line on stderr. Callers pass facts as
// fields; nothing here may be given a secret (endpoints, passwords, tokens).

type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

let threshold: Level = (process.env.SHIELD_LOG_LEVEL as Level) in ORDER ? (process.env.SHIELD_LOG_LEVEL as Level) : "info";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

function emit(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < ORDER[threshold]) return;
  sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => emit("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => emit("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => emit("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => emit("error", msg, fields),
  /** For tests: capture lines, or silence them. */
  setSink(fn: (line: string) => void): void { sink = fn; },
  setLevel(level: Level): void { threshold = level; },
};

/**
 * An error as log fields. Drizzle's query errors quote the query's parameters,
 * which may hold endpoint secrets: for those, only the driver's own error is kept.
 */
export function describeError(err: unknown): { error: string; stack?: string } {
  const e = (err as Error)?.name === "DrizzleQueryError" ? (err as Error).cause : err;
  return e instanceof Error ? { error: `${e.name}: ${e.message}`, stack: e.stack } : { error: String(e) };
}
