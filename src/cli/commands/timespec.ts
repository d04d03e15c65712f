// `shield timespec "EXPR"`: how the core reads a schedule's `when`, and its next runs.
import type { Command } from "../command.ts";
import { parseInteger } from "../values.ts";

export const timespecCommands: Command[] = [{
  verb: "timespec", summary: "Check a schedule's timing: its canonical form and next runs",
  usage: 'timespec "EXPR" [--count N]', args: ["EXPR"],
  options: [["--count N", "how many next runs to show (5 by default, at most 50)"]],
  examples: ['shield timespec "daily at 4am"', 'shield timespec "3rd tuesday at 2:05am in Europe/Berlin" --count 3', 'shield timespec "*/15 * * * *" --json'],
  specs: [{ name: "count" }],
  async run(ctx) {
    // Several words without quotes are one expression: shield timespec daily at 4am.
    const when = ctx.args.join(" ") || ctx.arg(0);
    const count = ctx.has("count") ? parseInteger(ctx.str("count")!, "--count", 1, 50) : undefined;
    ctx.out.show(await ctx.api().get<any>("/v1/timespec", { when, count }), (r) => [
      ["When", r.when], ["Canonical", r.canonical], ["Zone", r.zone], ["Next runs", (r.next as string[]).map((t) => `${t} UTC`).join("\n") || "never"],
    ]);
  },
}];
