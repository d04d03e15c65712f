// Archives: list and search, show, annotate, delete ahead of expiry, and restore
// (into the archive's own target or another, optionally following the task).
import type { Command, Ctx } from "../command.ts";
import type { Query } from "../client.ts";
import { followOrReport } from "../follow.ts";
import { formatBytes, short } from "../output.ts";
import { KINDS, resolve, resolveUuid } from "../resolve.ts";
import { oneOf, parseDay, parseInteger } from "../values.ts";
import { whoami } from "./session.ts";
import { createWriteStream } from "node:fs";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError, UsageError } from "../errors.ts";

const archive = (ctx: Ctx) => resolve(ctx.api(), KINDS.archive, ctx.arg(0));
const STATUSES = ["valid", "expired", "purged", "purge_failed"] as const;

/** The readable `show archive`: with, while its data is on its way out, why the purger failed and when it tries again. */
export function archiveDetails(o: any): [string, unknown][] {
  const purging = o.status !== "purged";
  return [
    ["UUID", o.uuid], ["Status", o.status], ["Taken at", `${o.taken_at} UTC`], ["Expires at", `${o.expires_at} UTC`],
    ...(o.pinned ? [["Pinned", `yes: ${o.pin_reason} (never expired)`] as [string, unknown]] : []),
    ...(o.purged_at ? [["Purged at", `${o.purged_at} UTC`] as [string, unknown]] : []),
    ...(o.purge_error ? [["Purge error", o.purge_error] as [string, unknown]] : []),
    ...(purging && o.purge_attempts > 0 ? [["Purge attempts", o.purge_attempts] as [string, unknown]] : []),
    ...(purging && o.purge_next_at ? [["Next purge at", `${o.purge_next_at} UTC`] as [string, unknown]] : []),
    ["Target", `${o.target_name ?? "(deleted)"} (${o.target_plugin ?? "-"}, ${o.target_uuid})`],
    ["Store", `${o.store_name ?? "(deleted)"} (${o.store_plugin ?? "-"}, ${o.store_uuid})`],
    ["Store key", o.store_key], ["Job", o.job_uuid],
    ["Size", o.size === null ? null : `${formatBytes(o.size)} stored, ${formatBytes(o.raw_size)} before compression`],
    ["Compression", o.compression], ["Cipher", o.cipher], ["SHA-256", o.sha256], ["Notes", o.notes],
  ];
}

export const archiveCommands: Command[] = [
  {
    verb: "list", noun: "archive", summary: "List archives, newest first",
    usage: "list archives [--target T] [--store S] [--job J] [--search TEXT] [--min-size N] [--max-size N] [--after YYYYMMDD] [--before YYYYMMDD] [--status STATUS] [--sort taken_at|size] [--asc] [--limit N] [--offset N]",
    options: [["--target T", "only archives of this target (name or UUID)"], ["--store S", "only archives in this store"],
      ["--job J", "only archives of this job"], ["--search TEXT", "notes, target name or job name containing TEXT (any case)"],
      ["--min-size N, --max-size N", "bytes stored, at least / at most N"],
      ["--after YYYYMMDD", "taken on or after that day (UTC)"], ["--before YYYYMMDD", "taken before that day (UTC)"],
      ["--status STATUS", STATUSES.join(", ")], ["--sort taken_at|size", "newest (default) or largest first; --asc for the other way"],
      ["--limit N, --offset N", "page through them (100 by default, at most 1000)"]],
    examples: ["shield list archives --target orders-db", "shield list archives --after 20240101 --before 20240201 --json",
      "shield list archives --search 'before upgrade'", "shield list archives --job orders-nightly --sort size"],
    specs: [{ name: "target" }, { name: "store" }, { name: "after" }, { name: "before" }, { name: "status" }, { name: "limit" }, { name: "offset" },
      { name: "job" }, { name: "search" }, { name: "min-size" }, { name: "max-size" }, { name: "sort" }, { name: "asc", flag: true }],
    async run(ctx) {
      const api = ctx.api();
      const q: Query = {};
      if (ctx.has("target")) q.target = await resolveUuid(api, KINDS.target, ctx.str("target")!);
      if (ctx.has("store")) q.store = await resolveUuid(api, KINDS.store, ctx.str("store")!);
      if (ctx.has("job")) q.job = await resolveUuid(api, KINDS.job, ctx.str("job")!);
      if (ctx.has("search")) q.q = ctx.str("search")!;
      if (ctx.has("min-size")) q.min_size = parseInteger(ctx.str("min-size")!, "--min-size", 0, Number.MAX_SAFE_INTEGER);
      if (ctx.has("max-size")) q.max_size = parseInteger(ctx.str("max-size")!, "--max-size", 0, Number.MAX_SAFE_INTEGER);
      if (ctx.has("sort")) q.sort = oneOf(ctx.str("sort")!, "--sort", ["taken_at", "size"]);
      if (ctx.flag("asc")) q.order = "asc";
      if (ctx.has("after")) q.after = parseDay(ctx.str("after")!, "--after");
      if (ctx.has("before")) q.before = parseDay(ctx.str("before")!, "--before");
      if (ctx.has("status")) q.status = oneOf(ctx.str("status")!, "--status", STATUSES);
      if (ctx.has("limit")) q.limit = parseInteger(ctx.str("limit")!, "--limit", 1, 1000);
      if (ctx.has("offset")) q.offset = parseInteger(ctx.str("offset")!, "--offset", 0, 1e9);
      ctx.out.list(await api.get<any[]>("/v1/archives", q), [
        { title: "UUID", value: (o) => short(o.uuid) }, { title: "Taken (UTC)", value: (o) => o.taken_at },
        { title: "Target", value: (o) => o.target_name }, { title: "Store", value: (o) => o.store_name },
        { title: "Status", value: (o) => o.status }, { title: "Size", value: (o) => formatBytes(o.size) },
        { title: "Expires (UTC)", value: (o) => o.expires_at }, { title: "Notes", value: (o) => o.notes },
      ], "(no archives)");
    },
  },
  {
    verb: "show", noun: "archive", summary: "Show one archive", usage: "show archive ARCHIVE", args: ["ARCHIVE"],
    examples: ["shield show archive 9ee4b579", "shield show archive 9ee4 --json"],
    async run(ctx) {
      const o = await archive(ctx);
      if (o.target_plugin !== "gpbackup") return ctx.out.show(o, archiveDetails);
      // A gpbackup backup: its files, and who restores it.
      const objects = await ctx.api().get<any[]>(`/v1/archive/${o.uuid}/objects`);
      ctx.out.show({ ...o, objects }, (x) => [
        ...archiveDetails(x),
        ["Restored by", `gprestore --timestamp ${String(o.store_key).replace(/^gpbackup\//, "")} (through Shield's gpbackup plugin), not by Shield`],
        ["Files", objects.length ? objects.map((f) => `${f.name.split("/").pop()}  ${formatBytes(f.size)}  (${f.store_key})`).join("\n") : "(none)"],
      ]);
    },
  },
  {
    verb: "edit", noun: "archive", summary: "Annotate an archive", usage: "edit archive ARCHIVE --notes TEXT", args: ["ARCHIVE"],
    options: [["--notes TEXT", "the archive's notes (asked for on a terminal)"]],
    examples: ["shield edit archive 9ee4 --notes 'before change #422'"],
    specs: [{ name: "notes" }],
    async run(ctx) {
      const o = await archive(ctx);
      const notes = ctx.str("notes") ?? (await ctx.ask("notes", "Notes", { default: o.notes }));
      ctx.report(await ctx.api().put(`/v1/archive/${o.uuid}`, { notes }), `updated archive ${o.uuid}`);
    },
  },
  {
    verb: "pin", noun: "archive", summary: "Pin an archive: it is never expired, by its expiry or by retention rules",
    usage: "pin archive ARCHIVE --reason TEXT", args: ["ARCHIVE"],
    options: [["--reason TEXT", "why it must stay (required; asked for on a terminal)"]],
    examples: ["shield pin archive 9ee4 --reason 'legal hold #42'"],
    specs: [{ name: "reason" }],
    async run(ctx) {
      const o = await archive(ctx);
      const reason = ctx.str("reason") ?? (await ctx.ask("reason", "Why pin it", { required: true }));
      ctx.report(await ctx.api().put(`/v1/archive/${o.uuid}`, { pinned: true, pin_reason: reason }), `pinned archive ${o.uuid}`);
    },
  },
  {
    verb: "unpin", noun: "archive", summary: "Unpin an archive: its expiry and its policy's rules apply again",
    usage: "unpin archive ARCHIVE", args: ["ARCHIVE"], examples: ["shield unpin archive 9ee4"],
    async run(ctx) {
      const o = await archive(ctx);
      ctx.report(await ctx.api().put(`/v1/archive/${o.uuid}`, { pinned: false }), `unpinned archive ${o.uuid}`);
    },
  },
  {
    verb: "delete", noun: "archive", summary: "Delete an archive ahead of its expiry (the purger removes its data)",
    usage: "delete archive ARCHIVE [-y]", args: ["ARCHIVE"], examples: ["shield delete archive 9ee4", "shield delete archive 9ee4 -y"],
    async run(ctx) {
      const o = await archive(ctx);
      await ctx.confirm(`Delete archive ${o.uuid} of ${o.target_name ?? o.target_uuid}, taken ${o.taken_at} UTC? Its data will be purged.`);
      ctx.report(await ctx.api().delete(`/v1/archive/${o.uuid}`), `deleted archive ${o.uuid}; the purger removes its data`);
    },
  },
  {
    verb: "restore", noun: "archive", summary: "Restore an archive into its target, or another with --to",
    usage: "restore archive ARCHIVE [--to TARGET] [--follow] [-y]", args: ["ARCHIVE"],
    options: [["--to TARGET", "restore into this target (name or UUID) instead of the archive's own"],
      ["--follow", "print the task's log as it runs; exit 0 when it is done, 4 if it failed, 5 if canceled"]],
    examples: ["shield restore archive 9ee4 --follow", "shield restore archive 9ee4 --to orders-staging -y --follow"],
    specs: [{ name: "to" }, { name: "follow", short: "f", flag: true }],
    async run(ctx) {
      const api = ctx.api();
      const o = await archive(ctx);
      const to = ctx.has("to") ? await resolve(api, KINDS.target, ctx.str("to")!) : undefined;
      const into = to ? `${to.name} (${to.uuid})` : `${o.target_name ?? "its target"} (${o.target_uuid})`;
      await ctx.confirm(`Restore archive ${o.uuid}, taken ${o.taken_at} UTC, into target ${into}? Its current data will be overwritten.`);
      const me = await whoami(ctx);
      const r = await api.post<any>(`/v1/archive/${o.uuid}/restore`, { ...(to ? { target: to.uuid } : {}), owner: me.name });
      return followOrReport(ctx, r, `restore of archive ${short(o.uuid)} into ${into}`, `scheduled a restore into ${into}`);
    },
  },
  {
    verb: "download", noun: "archive", summary: "Download an archive decrypted and decompressed (verified first, like a restore)",
    usage: "download archive ARCHIVE [-o FILE]", args: ["ARCHIVE"],
    options: [["-o, --output FILE", "write it to FILE instead of stdout (stdout must then not be a terminal)"]],
    examples: ["shield download archive 9ee4 > orders.dump", "shield download archive 9ee4 -o orders.dump"],
    specs: [{ name: "output", short: "o" }],
    async run(ctx) {
      const file = ctx.has("output") ? ctx.str("output")! : undefined;
      if (!file && process.stdout.isTTY) throw new UsageError("an archive is binary data: redirect stdout to a file (shield download archive X > FILE) or give -o FILE");
      const o = await archive(ctx);
      const res = await ctx.api().stream(`/v1/archive/${o.uuid}/download`);
      const out: Writable = file ? createWriteStream(file) : process.stdout;
      let bytes = 0;
      const counted = Readable.fromWeb(res.body as any).on("data", (c: Buffer) => { bytes += c.length; });
      try {
        await pipeline(counted, out, { end: !!file });
      } catch (err) {
        // The core cuts the transfer off when the second read fails its checks: what was written is not the archive.
        throw new CliError(`the download of archive ${o.uuid} broke off after ${bytes} bytes (${(err as Error).message}): ${file ?? "the output"} is incomplete`);
      }
      process.stderr.write(`downloaded archive ${o.uuid}: ${bytes} bytes${file ? ` to ${file}` : ""}; checksum and authentication verified\n`);
    },
  },
];
