/**
 * The timespec language: what a schedule's `when` says, parsed into something that can say when it next runs.
 * (Minimal first version: cron expressions only; the English forms follow.)
 */
import { Cron } from "croner";

export class TimespecError extends Error {
  /** Character offset in the text where the problem is. */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.name = "TimespecError";
    this.at = at;
  }
}

export interface Timespec {
  readonly canonical: string;
  readonly zone: string | undefined;
  next(after: Date, zone?: string): Date | undefined;
  nextRuns(after: Date, count: number, zone?: string): Date[];
}

/** The daemon's zone: the process TZ if set, else what Intl resolves. */
export function daemonZone(): string {
  const tz = process.env.TZ;
  if (tz && isZone(tz)) return tz;
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function isZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function parseTimespec(text: string): Timespec {
  const trimmed = text.trim();
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) throw new TimespecError(`not a schedule: "${trimmed}"`, 0);
  const pattern = fields.join(" ");
  try {
    new Cron(pattern, { paused: true });
  } catch (e) {
    throw new TimespecError(`bad cron expression: ${(e as Error).message}`, 0);
  }
  const runs = (after: Date, count: number, zone?: string): Date[] => {
    const cron = new Cron(pattern, { paused: true, timezone: zone ?? daemonZone() });
    const out: Date[] = [];
    let from = after;
    while (out.length < count) {
      const n = cron.nextRun(from);
      if (!n) break;
      out.push(n);
      from = n;
    }
    return out;
  };
  return {
    canonical: pattern,
    zone: undefined,
    next: (after, zone) => runs(after, 1, zone)[0],
    nextRuns: runs,
  };
}
