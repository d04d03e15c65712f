// A schedule's `when` must be something the scheduler can run: it is parsed on
// create and update, so a typo is refused at once rather than never running.
import { parseTimespec, TimespecError, type Timespec } from "../scheduler/timespec.ts";
import { InvalidInput } from "./errors.ts";

/** The parsed timespec, or a 400 naming `when` with the parser's words. */
export function readTimespec(when: string): Timespec {
  try {
    return parseTimespec(when);
  } catch (err) {
    if (err instanceof TimespecError) throw new InvalidInput(`when: ${err.message}`, { when: err.message });
    throw err;
  }
}

export async function timespecCheck(v: { timespec: string }): Promise<void> {
  readTimespec(v.timespec);
}
