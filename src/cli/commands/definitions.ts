// Targets, stores, schedules and retention policies: the same five commands each
// (list, show, create, edit, delete) over the same five endpoints of the API.
import type { OptionSpec } from "../../args.ts";
import type { Command, Ctx } from "../command.ts";
import type { Query } from "../client.ts";
import { UsageError } from "../errors.ts";
import { askEndpoint, askPlugin, endpointText } from "../endpoint.ts";
import { createBody, editBody, formSpecs, type Field } from "../form.ts";
import { formatBytes, formatDuration, maskEndpoint, short, type Column } from "../output.ts";
import { KINDS, resolve, type Kind } from "../resolve.ts";
import { parseDuration, parseEndpoint, parseInteger, parseRate } from "../values.ts";
import { describeRules, parseRule, RULE_FLAGS } from "./retention.ts";

interface Definition {
  kind: Kind;
  /** The noun in the words of the command ("target", "retention policy"). */
  noun: string;
  fields: Field[];
  columns: Column<any>[];
  details: (o: any) => [string, unknown][];
  /** --plugin filter (targets, stores). */
  byPlugin?: boolean;
  /** Switches only `edit` takes (a retention policy's --force): added to the body it sends. */
  editSwitches?: { flag: string; key: string; help: string }[];
  examples: { create: string[]; edit: string[] };
}

const usedSpecs: OptionSpec[] = [{ name: "used", flag: true }, { name: "unused", flag: true }];

function listQuery(ctx: Ctx, byPlugin: boolean): Query {
  if (ctx.flag("used") && ctx.flag("unused")) throw new UsageError("--used and --unused exclude each other");
  const q: Query = {};
  if (ctx.flag("unused")) q.unused = "t";
  if (ctx.flag("used")) q.unused = "f";
  if (byPlugin && ctx.has("plugin")) q.plugin = ctx.str("plugin");
  return q;
}

function flagHelp(fields: Field[]): [string, string][] {
  return fields.map((f) => [`--${f.flag}${f.boolean ? "" : " " + f.flag.toUpperCase()}`, `${f.question}${f.required ? " (required)" : ""}`]);
}

export function definitionCommands(d: Definition): Command[] {
  const { kind, noun } = d;
  const plural = kind.plural;
  const NOUN = noun.split(" ").pop()!.toUpperCase();
  return [
    {
      verb: "list", noun, summary: `List ${plural}`,
      usage: `list ${plural} [--used|--unused]${d.byPlugin ? " [--plugin NAME]" : ""}`,
      options: [["--used", `only ${plural} some job uses`], ["--unused", `only ${plural} no job uses (safe to delete)`],
        ...(d.byPlugin ? [["--plugin NAME", `only ${plural} of this plugin`] as [string, string]] : [])],
      examples: [`shield list ${plural}`, `shield list ${plural} --unused --json`],
      specs: [...usedSpecs, ...(d.byPlugin ? [{ name: "plugin" }] : [])],
      async run(ctx) {
        ctx.out.list(await ctx.api().get<any[]>(kind.list, listQuery(ctx, !!d.byPlugin)), d.columns, `(no ${plural})`);
      },
    },
    {
      verb: "show", noun, summary: `Show one ${noun}`, usage: `show ${noun} ${NOUN}`, args: [NOUN],
      examples: [`shield show ${noun} nightly`, `shield show ${noun} 6b83 --json`],
      async run(ctx) { ctx.out.show(await resolve(ctx.api(), kind, ctx.arg(0)), d.details); },
    },
    {
      verb: "create", noun, summary: `Create a ${noun}`,
      usage: `create ${noun} ${d.fields.map((f) => `${f.required ? "" : "["}--${f.flag}${f.boolean ? "" : " " + f.flag.toUpperCase()}${f.required ? "" : "]"}`).join(" ")}`,
      options: flagHelp(d.fields), examples: d.examples.create, specs: formSpecs(d.fields),
      async run(ctx) {
        const body = await createBody(ctx, d.fields);
        const r = await ctx.api().post<any>(kind.list, body);
        ctx.report(r, `created ${noun} ${body.name} (${r.uuid})`);
      },
    },
    {
      verb: "edit", noun, summary: `Change a ${noun}`,
      usage: `edit ${noun} ${NOUN} ${d.fields.map((f) => `[--${f.flag} ${f.flag.toUpperCase()}]`).join(" ")}`,
      options: [...flagHelp(d.fields).map(([f, h]) => [f, h.replace(" (required)", "")] as [string, string]),
        ...(d.editSwitches ?? []).map((w) => [`--${w.flag}`, w.help] as [string, string])],
      examples: d.examples.edit, specs: [...formSpecs(d.fields), ...(d.editSwitches ?? []).map((w) => ({ name: w.flag, flag: true }))], args: [NOUN],
      async run(ctx) {
        const current = await resolve(ctx.api(), kind, ctx.arg(0));
        const body = await editBody(ctx, d.fields, current);
        for (const w of d.editSwitches ?? []) if (ctx.flag(w.flag)) body[w.key] = true;
        const r = await ctx.api().put<any>(`${kind.item}/${current.uuid}`, body);
        ctx.report(r, `updated ${noun} ${body.name} (${current.uuid})`);
      },
    },
    {
      verb: "delete", noun, summary: `Delete a ${noun} no job uses`, usage: `delete ${noun} ${NOUN} [-y]`, args: [NOUN],
      examples: [`shield delete ${noun} old-${noun.split(" ")[0]}`, `shield delete ${noun} 6b83 --yes`],
      async run(ctx) {
        const o = await resolve(ctx.api(), kind, ctx.arg(0));
        await ctx.confirm(`Delete ${noun} "${o.name}" (${o.uuid})?`);
        const r = await ctx.api().delete<any>(`${kind.item}/${o.uuid}`);
        ctx.report(r, `deleted ${noun} ${o.name} (${o.uuid})`);
      },
    },
  ];
}

const name: Field = { key: "name", flag: "name", question: "Name", required: true };
const summary: Field = { key: "summary", flag: "summary", question: "Summary", required: false };
const plugin = (role: "target" | "store"): Field => ({
  key: "plugin", flag: "plugin", question: "Plugin", required: true,
  ask: (ctx, _body, was) => askPlugin(ctx.api(), role, was as string | undefined),
});
const endpoint: Field = {
  key: "endpoint", flag: "endpoint", question: "Endpoint (JSON; - reads it from stdin, @FILE from a file: keeps passwords out of argv)", required: true,
  parse: async (t) => parseEndpoint(await endpointText(t)),
  ask: (ctx, body, was) => askEndpoint(ctx.api(), String(body.plugin), was as string | undefined),
};

/** A bandwidth limit (README "Limits"): --bandwidth 50M; 0 for none. */
const bandwidth: Field = {
  key: "bandwidth", flag: "bandwidth", question: "Bandwidth limit (bytes/s, e.g. 50M; 0: none)", required: false, noPrompt: true,
  parse: (t) => parseRate(t, "--bandwidth"),
};
const rateText = (b: number | undefined) => (b ? `at most ${formatBytes(b)}/s` : "no limit");

export const targetCommands = definitionCommands({
  kind: KINDS.target, noun: "target", byPlugin: true,
  fields: [name, summary, plugin("target"), endpoint,
    { key: "agent", flag: "agent", question: "Agent (host:port, or the name of one that dials the core; empty: the core runs the plugin)", required: false, fallback: "" }, bandwidth],
  columns: [
    { title: "UUID", value: (o) => short(o.uuid) }, { title: "Name", value: (o) => o.name },
    { title: "Plugin", value: (o) => o.plugin }, { title: "Agent", value: (o) => o.agent }, { title: "Summary", value: (o) => o.summary },
  ],
  details: (o) => [["UUID", o.uuid], ["Name", o.name], ["Summary", o.summary], ["Plugin", o.plugin], ["Endpoint", maskEndpoint(o.endpoint)], ["Agent", o.agent || "(none: the core runs the plugin)"], ["Bandwidth", rateText(o.bandwidth)]],
  examples: {
    create: [
      `shield create target --name orders-db --plugin postgres --endpoint '{"pg_host":"db1","pg_user":"backup","pg_database":"orders"}'`,
      `jq -n --arg pw "$PGPASSWORD" '{pg_host:"db1",pg_user:"backup",pg_password:$pw}' | shield create target --name orders-db --plugin postgres --endpoint -`,
      "shield create target                      # on a terminal: asks for each field, and the plugin's endpoint fields one by one",
    ],
    edit: [`shield edit target orders-db --summary "orders, primary"`, `shield edit target orders-db --endpoint '{"pg_host":"db2","pg_user":"backup"}'`],
  },
});

export const storeCommands = definitionCommands({
  kind: KINDS.store, noun: "store", byPlugin: true,
  fields: [name, summary, plugin("store"), endpoint, bandwidth,
    { key: "max_tasks", flag: "max-tasks", question: "Tasks at once at most (0: no limit)", required: false, noPrompt: true, parse: (t) => parseInteger(t, "--max-tasks", 0, 1_000_000) }],
  columns: [
    { title: "UUID", value: (o) => short(o.uuid) }, { title: "Name", value: (o) => o.name },
    { title: "Plugin", value: (o) => o.plugin }, { title: "Summary", value: (o) => o.summary },
  ],
  details: (o) => [["UUID", o.uuid], ["Name", o.name], ["Summary", o.summary], ["Plugin", o.plugin], ["Endpoint", maskEndpoint(o.endpoint)],
    ["Max tasks", o.max_tasks ? `at most ${o.max_tasks} at once` : "no limit"], ["Bandwidth", rateText(o.bandwidth)]],
  examples: {
    create: [`shield create store --name local --plugin fs --endpoint '{"base_dir":"/var/backups/shield"}'`],
    edit: [`shield edit store local --endpoint '{"base_dir":"/mnt/backups"}'`],
  },
});

export const scheduleCommands = definitionCommands({
  kind: KINDS.schedule, noun: "schedule",
  fields: [name, summary, { key: "when", flag: "when", question: 'When (like "daily at 4am"; try shield timespec)', required: true }],
  columns: [
    { title: "UUID", value: (o) => short(o.uuid) }, { title: "Name", value: (o) => o.name },
    { title: "When", value: (o) => o.when }, { title: "Next run (UTC)", value: (o) => o.next_run }, { title: "Summary", value: (o) => o.summary },
  ],
  details: (o) => [
    ["UUID", o.uuid], ["Name", o.name], ["Summary", o.summary], ["When", o.when],
    ...(o.canonical !== undefined ? [["Canonical", o.canonical] as [string, unknown]] : []),
    ...(o.next_run !== undefined ? [["Next run", o.next_run ? `${o.next_run} UTC` : "never"] as [string, unknown]] : []),
  ],
  examples: {
    create: [`shield create schedule --name nightly --when "daily at 4am"`, `shield create schedule --name weekly --when "sundays 2am in Europe/Berlin" --summary "weekly full"`],
    edit: [`shield edit schedule nightly --when "daily at 3:30am"`, `shield update schedule nightly --summary "moved earlier"`],
  },
});

export const retentionCommands = definitionCommands({
  kind: KINDS.retention, noun: "retention policy",
  fields: [name, summary, {
    key: "expires", flag: "expires", question: "Keep archives for (3600, 1h, 30d, 2w, 1y)", required: true,
    parse: (t) => parseDuration(t), show: (o) => formatDuration(o.expires),
  }, ...RULE_FLAGS.map(({ key, flag, question }): Field => ({
    key, flag, question, required: false, noPrompt: true, parse: (t) => parseRule(key, flag, t),
  }))],
  columns: [
    { title: "UUID", value: (o) => short(o.uuid) }, { title: "Name", value: (o) => o.name },
    { title: "Expires", value: (o) => formatDuration(o.expires) }, { title: "Rules", value: (o) => describeRules(o) },
    { title: "Summary", value: (o) => o.summary },
  ],
  details: (o) => [["UUID", o.uuid], ["Name", o.name], ["Summary", o.summary], ["Expires", `${o.expires} s (${formatDuration(o.expires)})`],
    ["Rules", describeRules(o)]],
  editSwitches: [{ flag: "force", key: "force", help: "confirm a change that purges more than --retention-max-purge-share of a job's archives at once" }],
  examples: {
    create: [`shield create retention policy --name month --expires 30d`, `shield create policy --name hourly --expires 3600 --summary "scratch"`,
      `shield create retention policy --name gfs --expires 1d --keep-last 3 --keep-daily 7 --keep-weekly 4 --keep-monthly 12`],
    edit: [`shield edit retention policy month --expires 31d`, `shield edit retention policy gfs --keep-daily 14 --keep-within 0`,
      `shield edit retention policy gfs --keep-monthly 3 --force`],
  },
});
