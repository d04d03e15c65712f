// `shield test target X` / `shield test store X`: runs the plugin's live `test`
// through the core (POST /v1/target/:uuid/test) and prints its lines. Exit 0 when
// the connection works, 3 when the test failed (the core said so, not a usage error).
import type { Command } from "../command.ts";
import { EXIT } from "../errors.ts";
import { KINDS, resolve } from "../resolve.ts";

const tester = (noun: "target" | "store"): Command => ({
  verb: "test", noun, summary: `Test a ${noun}'s connection (the plugin's live 'test': can connect${noun === "store" ? ", write and delete" : ""})`,
  usage: `test ${noun} ${noun.toUpperCase()}`, args: [noun.toUpperCase()],
  examples: [`shield test ${noun} ${noun === "target" ? "orders-db" : "disk"}`, `shield test ${noun} ${noun === "target" ? "orders-db" : "disk"} --json`],
  async run(ctx) {
    const o = await resolve(ctx.api(), KINDS[noun], ctx.arg(0));
    const r = await ctx.api().post<{ ok: boolean; lines: string[]; tested_at: string }>(`/v1/${noun}/${o.uuid}/test`);
    if (ctx.json) ctx.out.data(r);
    else {
      for (const line of r.lines) ctx.out.line(`  ${line}`);
      ctx.out.line(r.ok ? `${noun} ${o.name}: connection ok` : `${noun} ${o.name}: connection test FAILED`);
    }
    return r.ok ? EXIT.OK : EXIT.FAILED;
  },
});

export const connectionCommands: Command[] = [tester("target"), tester("store")];
