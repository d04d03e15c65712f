// The plugin side of the plugin protocol, shared by the built-in plugins.
//
//   shield plugin NAME ACTION [-e|--endpoint JSON] [-k|--key KEY]
//
// The contract every plugin keeps, built-in or external (see plugins/examples/README.md):
// - stdout carries only data (backup, retrieve) or JSON (info, store); everything
//   for a human goes to stderr, errors as one clear line, and the exit code says
//   what kind of failure it was (EXIT below, the codes of the original Shield);
// - the endpoint comes from --endpoint, or from SHIELD_ENDPOINT for plugins whose
//   info says "endpoint_from": "env" (the built-ins do: no secret in the process list);
// - every tool a plugin runs is checked: a producer failing mid-stream makes the
//   plugin exit non-zero, so a truncated stream never passes for a complete one.
import { writeSync } from "node:fs";
import { UsageError, parseArgs } from "../src/args.ts";
import type { EndpointField } from "../src/endpoint-fields.ts";

export const EXIT = {
  OK: 0,
  USAGE: 1,
  UNSUPPORTED_ACTION: 2,
  /** A tool the plugin runs could not be started, or exited non-zero. */
  EXEC_FAILURE: 3,
  PLUGIN_FAILURE: 4,
  BAD_JSON: 10,
  KEY_REQUIRED: 11,
  ENDPOINT_MISSING_KEY: 12,
  /** An endpoint value is of the wrong type or meaningless; also a malformed --key. */
  ENDPOINT_BAD_VALUE: 13,
} as const;

export const ACTIONS = ["info", "validate", "backup", "restore", "store", "retrieve", "purge", "test", "verify", "clean"] as const;
export type Action = (typeof ACTIONS)[number];

/** A failure with the exit code that names its kind; its message is the one line printed. */
export class PluginError extends Error {
  constructor(message: string, readonly code: number = EXIT.PLUGIN_FAILURE) { super(message); }
}
export class ExecFailure extends PluginError {
  constructor(message: string) { super(message, EXIT.EXEC_FAILURE); }
}
export class EndpointMissing extends PluginError {
  constructor(readonly field: string) { super(`the endpoint lacks "${field}", which is required`, EXIT.ENDPOINT_MISSING_KEY); }
}
export class EndpointInvalid extends PluginError {
  constructor(readonly field: string, why: string) { super(`endpoint "${field}" ${why}`, EXIT.ENDPOINT_BAD_VALUE); }
}

export type Endpoint = Record<string, unknown>;

/**
 * The environment variable the plugin host sets when the admin confined the daemon
 * (`shield daemon --allow-path DIR`): the allowed directories, colon-separated.
 */
export const ALLOW_PATH_ENV = "SHIELD_ALLOW_PATH";

/** The allowed directories from the environment; empty: the daemon is not confined. */
export function allowedPaths(env: Record<string, string | undefined>): string[] {
  return (env[ALLOW_PATH_ENV] ?? "").split(":").filter(Boolean);
}

/**
 * One endpoint field, as `info` declares it: the front doors' EndpointField
 * (src/endpoint-fields.ts says what each type means to the forms and prompts,
 * and how it is sent), its `enum` given only for an "enum" field.
 */
export type PluginField = Omit<EndpointField, "enum"> & { enum?: string[] };

export interface PluginInfo {
  name: string;
  author: string;
  version: string;
  features: { target: "yes" | "no"; store: "yes" | "no" };
  endpoint_from: "env" | "flag";
  /** A store that keeps the partial-blob contract below says "yes": only then does the daemon purge `partial:ID`. */
  partial_blobs?: "yes" | "no";
  fields: PluginField[];
}

/**
 * Partial blobs. A store killed before it finished (the daemon died, kill -9) may
 * leave what it had written somewhere (the fs store's `.incoming`, an unfinished
 * multipart upload), under a name only it knew. So the daemon names that partial
 * blob before the store starts: `store` runs with SHIELD_PARTIAL_ID (a UUID, the
 * task's, safe as a file name) in its environment, and a store that keeps partial
 * data names it after that id. When the daemon knows the run died (its crash
 * recovery), it runs `purge --key partial:ID`, which removes whatever that store
 * kept for the id and succeeds when there is nothing (idempotent, like any purge).
 * Optional, and declared: only a store whose `info` says `"partial_blobs": "yes"`
 * is sent such a key (a plugin written for the original Shield might read a key
 * with a colon as something else entirely).
 */
const PARTIAL_ID_ENV = "SHIELD_PARTIAL_ID";
const PARTIAL_KEY_PREFIX = "partial:";
/** What an id may be: it becomes part of a file name. */
export const PARTIAL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** The id of a `partial:ID` key; undefined for any other key; throws (exit 13) for a malformed id. */
export function partialIdOf(key: string): string | undefined {
  if (!key.startsWith(PARTIAL_KEY_PREFIX)) return undefined;
  const id = key.slice(PARTIAL_KEY_PREFIX.length);
  if (!PARTIAL_ID.test(id)) throw new PluginError(`"${key}" is not a partial blob's key (partial:ID, ID of letters, digits, - and _)`, EXIT.ENDPOINT_BAD_VALUE);
  return id;
}

/**
 * What a target's optional `verify` reports (printed as one JSON line), for a
 * restore drill: figures a person can compare with the source (tables and their
 * row counts, a file count and total size). `summary` is one line for the task log.
 */
export interface VerifyResult { summary: string; figures: Record<string, unknown> }

/** What `store` reports; printed as the JSON line the daemon records. */
export interface StoreResult { key: string; size?: number; [extra: string]: unknown }

/**
 * What an action is given. stdin and stdout are web streams made on first use:
 * an action that hands fd 0 or 1 straight to a tool (`stdin: "inherit"`) must not
 * touch them, or this process would read bytes meant for the tool.
 */
export interface ActionContext {
  /** The action being run: validate may ask less of an endpoint only read from. */
  action: Action;
  endpoint: Endpoint;
  /** The --key of retrieve and purge; always set for those two (purge: maybe `partial:ID`, see partialIdOf). */
  key: string;
  /**
   * The directories the admin confined the daemon to (SHIELD_ALLOW_PATH, set by
   * the plugin host); empty when unconfined. See confine.ts.
   */
  allowPaths: readonly string[];
  /** store: the id to name a partial blob after (SHIELD_PARTIAL_ID), when the daemon gave a valid one. */
  partialId?: string;
  readonly stdin: ReadableStream<Uint8Array>;
  /**
   * 0 when the input is this process's own fd 0 (a plugin run as a command), so an
   * action may read it into its own buffers with no per-chunk allocation (the s3
   * store does); undefined when the input is a stream handed in (a built-in store
   * run inside its guard). Read either this fd or `stdin`, never both.
   */
  readonly stdinFd?: number;
  /**
   * Where a tool handed the data (pg_dump) writes it: this fd as its stdout. Absent: fd 1
   * (`stdout: "inherit"`). Set in a store's guard that runs the backup beside the store
   * (src/pipeline/guard.ts, --with-source): there fd 1 is not the data's way out.
   */
  readonly stdoutFd?: number;
  /** Writes wait for the pipe to drain: memory stays bounded whatever the size. */
  readonly stdout: WritableStream<Uint8Array>;
  /**
   * retrieve, for a store whose blobs are local files (Plugin.localBlobs), run inside a
   * restore's unsealing guard (src/pipeline/guard.ts): give the blob here, open for
   * reading from its start, instead of writing it to stdout; the guard reads the file
   * itself. Resolves once the guard is done with it; the store then closes it. Absent
   * everywhere else: write the blob to stdout.
   */
  readonly handOverFile?: (file: BlobFile) => Promise<void>;
  /** Aborted on SIGTERM/SIGINT; the children started through exec() are signalled too. */
  signal: AbortSignal;
  /**
   * Registers undo work (remove a temp file, abort an upload) run if a signal ends
   * the action; returns the unregister. Work that returns a promise is given up to
   * UNDO_GRACE_MS before the process exits.
   */
  onAbort(fn: () => void | Promise<void>): () => void;
  /** A line for the human on stderr. */
  log(line: string): void;
}

/**
 * A plugin. `validate` checks the endpoint without touching the data system and
 * returns lines for a human; it throws EndpointMissing/EndpointInvalid when the
 * endpoint is unusable. An action it lacks is "unsupported" (exit 2).
 * Every action is given a validated endpoint: the protocol runs `validate` first.
 */
export interface Plugin {
  info: PluginInfo;
  validate(ctx: ActionContext): string[] | Promise<string[]>;
  /** target: the data, to stdout. */
  backup?(ctx: ActionContext): Promise<void>;
  /** target: the data, from stdin; replaces what the endpoint holds. */
  restore?(ctx: ActionContext): Promise<void>;
  /** store: stdin becomes a blob; the key is valid only once the blob is complete and durable. */
  store?(ctx: ActionContext): Promise<StoreResult>;
  /** store: the blob under ctx.key, to stdout (or handed over: ctx.handOverFile); fails (exit 4) when there is none. */
  retrieve?(ctx: ActionContext): Promise<void>;
  /**
   * store: its blobs are files on this host, and its retrieve hands one over open
   * (ctx.handOverFile) when asked. Only a built-in can say so (plugins/one.ts lists them).
   */
  localBlobs?: boolean;
  /** store: removes the blob; a key with no blob is success (purge is idempotent). */
  purge?(ctx: ActionContext): Promise<void>;
  /** A live check (can connect, can write); lines for a human. */
  test?(ctx: ActionContext): Promise<string[]>;
  /**
   * target, optional (restore drills): reads what the endpoint holds and reports
   * figures (VerifyResult, one JSON line on stdout); changes nothing. Absent: exit 2,
   * and the drill says the plugin offers no verification.
   */
  verify?(ctx: ActionContext): Promise<VerifyResult>;
  /**
   * target, optional (restore drills): empties what the endpoint holds, after a
   * drill restored into it. The daemon sends it only to a drill's scratch target.
   */
  clean?(ctx: ActionContext): Promise<string[]>;
}

const USAGE = (name: string) => `usage: shield plugin ${name} ACTION [-e|--endpoint JSON] [-k|--key KEY]
actions: ${ACTIONS.join(", ")}
The endpoint may come from $SHIELD_ENDPOINT instead of --endpoint.
Exit codes: 1 usage, 2 unsupported action, 3 exec failure, 4 plugin failure,
10 bad JSON, 11 key required, 12 endpoint lacks a required key, 13 endpoint value invalid.
`;

/** One line on stderr, written synchronously so that it is out before the process exits. */
export function say(line: string): void {
  const text = line.endsWith("\n") ? line : line + "\n";
  try {
    writeSync(2, text);
  } catch {
    // stderr may be a non-blocking pipe that is full right now.
    process.stderr.write(text);
  }
}

/**
 * Where an action reads and writes instead of fds 0 and 1: the store's guard runs a
 * built-in store in its own process and hands it the sealed stream directly (see
 * src/pipeline/guard.ts). Everything else about the action is as in its own process.
 */
export interface ActionStreams {
  stdin?: ReadableStream<Uint8Array>;
  stdout?: WritableStream<Uint8Array>;
  /** Given to a retrieve as ctx.handOverFile (a built-in store run inside an unsealing guard). */
  handOverFile?: (file: BlobFile) => Promise<void>;
  /**
   * Where the action's words go (ctx.log, its error, its stop) instead of fd 2: a
   * store's guard that runs a target's backup as well keeps fd 2 for the target's.
   */
  log?: (line: string) => void;
  /**
   * false: the action takes no part in SIGTERM/SIGINT (ctx.signal never aborts, the
   * process is not exited for it), because another action of the same process
   * handles them and exits it; the tools this one started get the signal from their
   * group. Default true.
   */
  signals?: boolean;
  /** Aborts the action as a signal would (ctx.signal; its tools are signalled), without exiting the process. */
  stop?: AbortSignal;
  /** Given to a source as ctx.stdoutFd: where its tools write the data instead of fd 1. */
  stdoutFd?: number;
}

/** A blob as a local file: an open descriptor of a regular file, read from its start. */
export interface BlobFile {
  fd: number;
}

/** Runs one plugin action as this process; resolves with the exit code. */
export async function runAction(
  plugin: Plugin, argv: string[], env: Record<string, string | undefined> = process.env, streams: ActionStreams = {},
): Promise<number> {
  const name = plugin.info.name;
  const io = new ProcessIO(name, streams);
  try {
    let parsed;
    try {
      // -D/--debug: accepted as the original Shield's plugins did, and ignored.
      parsed = parseArgs(argv, [{ name: "endpoint", short: "e" }, { name: "key", short: "k" }, { name: "debug", short: "D", flag: true }]);
    } catch (err) {
      if (err instanceof UsageError) throw new PluginError(err.message, EXIT.USAGE);
      throw err;
    }
    const [action, ...extra] = parsed.positionals;
    if (action === undefined || action === "help" || action === "--help") {
      if (action === undefined) { io.log(USAGE(name).trimEnd()); return EXIT.USAGE; }
      await io.printLines([USAGE(name).trimEnd()]);
      await io.finish();
      return EXIT.OK;
    }
    if (extra.length) throw new PluginError(`unexpected argument "${extra[0]}"`, EXIT.USAGE);
    if (action === "info") {
      await io.printJSON(plugin.info);
      await io.finish();
      return EXIT.OK;
    }
    const implemented = (ACTIONS as readonly string[]).includes(action) && (action === "validate" || typeof plugin[action as Exclude<Action, "info" | "validate">] === "function");
    if (!implemented) throw new PluginError(`the action "${action}" is not supported by this plugin`, EXIT.UNSUPPORTED_ACTION);

    const endpoint = readEndpoint(parsed.options.endpoint as string | undefined, env.SHIELD_ENDPOINT, action);
    let key = "";
    if (action === "retrieve" || action === "purge") {
      key = (parsed.options.key as string | undefined) ?? "";
      if (!key) throw new PluginError(`${action} needs the blob's key: --key KEY`, EXIT.KEY_REQUIRED);
    }
    const partialId = env[PARTIAL_ID_ENV];
    const ctx = io.context(action as Action, endpoint, key, allowedPaths(env), action === "store" && partialId && PARTIAL_ID.test(partialId) ? partialId : undefined);
    const lines = await plugin.validate(ctx);
    switch (action as Exclude<Action, "info">) {
      case "validate":
        await io.printLines(lines.length ? lines : ["endpoint is valid"]);
        break;
      case "test":
        await io.printLines(await plugin.test!(ctx));
        break;
      case "store": {
        const result = await plugin.store!(ctx);
        await io.printJSON(result);
        break;
      }
      case "verify": await io.printJSON(await plugin.verify!(ctx)); break;
      case "clean": await io.printLines(await plugin.clean!(ctx)); break;
      case "backup": await plugin.backup!(ctx); break;
      case "restore": await plugin.restore!(ctx); break;
      case "retrieve": await plugin.retrieve!(ctx); break;
      case "purge": await plugin.purge!(ctx); break;
    }
    await io.finish();
    return EXIT.OK;
  } catch (err) {
    if (io.aborted) return io.abortCode;
    if (err instanceof PluginError) {
      io.log(`${name}: ${err.message}`);
      return err.code;
    }
    if ((err as NodeJS.ErrnoException)?.code === "EPIPE") io.log(`${name}: the reader of stdout went away before the end (EPIPE)`);
    else io.log(`${name}: ${(err as Error)?.message ?? String(err)}`);
    return EXIT.PLUGIN_FAILURE;
  } finally {
    io.dispose();
  }
}

function readEndpoint(flag: string | undefined, fromEnv: string | undefined, action: string): Endpoint {
  const text = flag ?? fromEnv;
  if (text === undefined || text === "") throw new PluginError(`${action} needs an endpoint: --endpoint JSON, or SHIELD_ENDPOINT in the environment`, EXIT.USAGE);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The text itself may hold a password: say what is wrong, not what it was.
    throw new PluginError(`the endpoint is not valid JSON (${(err as Error).message.replace(/".*"/s, "…")})`, EXIT.BAD_JSON);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new PluginError("the endpoint must be a JSON object", EXIT.BAD_JSON);
  return value as Endpoint;
}

/** How long asynchronous undo work (a store aborting its upload) may hold the exit after a signal. */
const UNDO_GRACE_MS = 10_000;

/** This process's stdin, stdout and signals, as the actions see them. */
class ProcessIO {
  aborted = false;
  abortCode = 0;
  private readonly controller = new AbortController();
  private readonly undo = new Set<() => void | Promise<void>>();
  private stdoutStream?: WritableStream<Uint8Array>;
  /** Where the action's words go (ActionStreams.log). */
  readonly log: (line: string) => void;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    if (this.aborted) return;
    this.aborted = true;
    this.abortCode = 128 + (sig === "SIGINT" ? 2 : 15);
    this.log(`${this.name}: ${sig}: stopping`);
    this.controller.abort(new PluginError(`stopped by ${sig}`));
    const undone: Promise<unknown>[] = [];
    for (const fn of this.undo) {
      try { const p = fn(); if (p) undone.push(p.catch(() => {})); } catch { /* best effort while dying */ }
    }
    const grace = new Promise((res) => setTimeout(res, UNDO_GRACE_MS));
    void Promise.all([stopChildren(sig), Promise.race([Promise.all(undone), grace])]).finally(() => process.exit(this.abortCode));
  };

  constructor(private readonly name: string, private readonly streams: ActionStreams = {}) {
    this.log = streams.log ?? say;
    streams.stop?.addEventListener("abort", () => this.controller.abort(new PluginError("stopped")), { once: true });
    if (streams.signals === false) return;
    process.on("SIGTERM", this.onSignal);
    process.on("SIGINT", this.onSignal);
  }

  dispose(): void {
    process.off("SIGTERM", this.onSignal);
    process.off("SIGINT", this.onSignal);
  }

  context(action: Action, endpoint: Endpoint, key: string, allowPaths: readonly string[], partialId?: string): ActionContext {
    const io = this;
    let stdin: ReadableStream<Uint8Array> | undefined;
    return {
      action,
      endpoint,
      key,
      allowPaths,
      partialId,
      get stdin() { return (stdin ??= io.streams.stdin ?? Bun.stdin.stream() as ReadableStream<Uint8Array>); },
      stdinFd: io.streams.stdin ? undefined : 0,
      stdoutFd: io.streams.stdoutFd,
      get stdout() { return io.stdout(); },
      handOverFile: action === "retrieve" ? io.streams.handOverFile : undefined,
      signal: this.controller.signal,
      onAbort: (fn) => { this.undo.add(fn); return () => this.undo.delete(fn); },
      log: this.log,
    };
  }

  stdout(): WritableStream<Uint8Array> {
    return (this.stdoutStream ??= this.streams.stdout ?? fileSinkStream(Bun.stdout.writer()));
  }

  async printJSON(value: unknown): Promise<void> {
    await this.write(JSON.stringify(value, null, 2) + "\n");
  }

  async printLines(lines: string[]): Promise<void> {
    if (lines.length) await this.write(lines.join("\n") + "\n");
  }

  private async write(text: string): Promise<void> {
    const w = this.stdout().getWriter();
    await w.write(new TextEncoder().encode(text));
    w.releaseLock();
  }

  /** Everything written reached the pipe before the process may exit. */
  async finish(): Promise<void> {
    if (this.stdoutStream && !this.stdoutStream.locked) await this.stdoutStream.close();
  }
}

const FLUSH_EVERY = 1 << 20;

/**
 * A FileSink (a pipe to stdout or to a child's stdin) as a WritableStream that
 * applies backpressure: a FileSink buffers whatever it is given unless its
 * pending writes and flushes are awaited.
 */
export function fileSinkStream(sink: import("bun").FileSink, opts: { end?: boolean } = {}): WritableStream<Uint8Array> {
  let unflushed = 0;
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      const n = sink.write(chunk);
      if (typeof n !== "number") await n;
      unflushed += chunk.byteLength;
      if (unflushed >= FLUSH_EVERY) {
        unflushed = 0;
        await sink.flush();
      }
    },
    async close() {
      await sink.flush();
      if (opts.end) await sink.end();
    },
    async abort() {
      if (opts.end) { try { await sink.end(); } catch { /* the reader is gone */ } }
    },
  }, new CountQueuingStrategy({ highWaterMark: 1 }));
}

// ---- running the tools a plugin drives (pg_dump, tar, ...) ----

const children = new Set<import("bun").Subprocess>();

/** Passes the signal on, waits for the children to go (so none is left behind), SIGKILLs the stubborn. */
async function stopChildren(sig: NodeJS.Signals, graceMs = 2000): Promise<void> {
  const all = [...children];
  for (const child of all) { try { child.kill(sig); } catch { /* gone */ } }
  const timer = new Promise((res) => setTimeout(res, graceMs));
  await Promise.race([Promise.all(all.map((c) => c.exited)), timer]);
  for (const child of all) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export interface ExecOptions {
  /** A stream to feed to the tool's stdin, "inherit" to hand it fd 0, or "ignore". */
  stdin?: ReadableStream<Uint8Array> | "inherit" | "ignore";
  /** "inherit" hands it fd 1 (the data goes straight to our reader), a number that fd, "pipe" collects it, "ignore". */
  stdout?: "inherit" | "pipe" | "ignore" | number;
  /** "inherit": the tool's diagnostics go to our stderr; "pipe": collected and returned. */
  stderr?: "inherit" | "pipe";
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Exit codes taken as success besides 0 (tar's 1, "a file changed as we read it"). */
  okCodes?: number[];
  /** A file descriptor handed to the tool as its fd 3 (psql reads a script there: `-f /dev/fd/3`). */
  fd3?: number;
  signal?: AbortSignal;
}

export interface ExecResult { code: number; stdout: string; stderr: string }

/**
 * Runs a tool to its end and checks its exit: not found, killed, or a non-zero
 * status is an ExecFailure (exit 3) naming the tool. When a stdin stream is fed
 * and the tool exits early, the tool's failure is the one reported.
 */
export async function exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const tool = argv[0]!.split("/").pop();
  const feed = opts.stdin instanceof ReadableStream ? opts.stdin : undefined;
  let proc: import("bun").Subprocess<"pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore" | number, "pipe" | "inherit">;
  try {
    const stdin = feed ? "pipe" : (opts.stdin as "inherit" | "ignore" | undefined) ?? "ignore";
    const stdout = opts.stdout ?? "inherit";
    const stderr = opts.stderr ?? "inherit";
    proc = Bun.spawn(argv, {
      ...(opts.fd3 === undefined ? { stdin, stdout, stderr } : { stdio: [stdin, stdout, stderr, opts.fd3] as [typeof stdin, typeof stdout, typeof stderr, number] }),
      env: opts.env as Record<string, string> | undefined,
      cwd: opts.cwd,
    }) as typeof proc;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (err as Error).message;
    throw new ExecFailure(`cannot run ${argv[0]}: ${why}`);
  }
  children.add(proc);
  const onAbort = () => proc.kill("SIGTERM");
  opts.signal?.addEventListener("abort", onAbort);
  try {
    const out = proc.stdout instanceof ReadableStream ? new Response(proc.stdout).text() : Promise.resolve("");
    const err = proc.stderr instanceof ReadableStream ? new Response(proc.stderr).text() : Promise.resolve("");
    // Our side failing (a refused tar member) and the tool's side failing (it
    // exited early: EPIPE) are told apart, so the error reported is the cause.
    let sourceError: unknown;
    let sinkError: unknown;
    if (feed) {
      const writer = fileSinkStream(proc.stdin as import("bun").FileSink, { end: true }).getWriter();
      const reader = feed.getReader();
      for (;;) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (e) {
          sourceError = e;
          break;
        }
        if (next.done) break;
        try {
          await writer.write(next.value);
        } catch (e) {
          sinkError = e;
          reader.cancel().catch(() => {});
          break;
        }
      }
      if (sourceError) {
        // A clean EOF would let the tool finish a partial restore: stop it instead.
        proc.kill("SIGTERM");
        writer.abort().catch(() => {});
      } else if (!sinkError) {
        await writer.close().catch((e) => { sinkError = e; });
      }
    }
    const code = await proc.exited;
    const [stdout, stderr] = await Promise.all([out, err]);
    if (sourceError) throw sourceError instanceof PluginError ? sourceError : new PluginError(`reading the input for ${tool}: ${(sourceError as Error)?.message ?? sourceError}`);
    if (proc.signalCode) throw new ExecFailure(`${tool} was killed by ${proc.signalCode}`);
    if (code !== 0 && !(opts.okCodes ?? []).includes(code)) {
      const detail = opts.stderr === "pipe" && stderr.trim() ? `: ${stderr.trim().split("\n").pop()}` : "";
      throw new ExecFailure(`${tool} failed (exit ${code})${detail}`);
    }
    // The tool was happy but did not take everything it was given: that is a failure too.
    if (sinkError) throw new PluginError(`${tool} stopped reading its input: ${(sinkError as Error)?.message ?? sinkError}`);
    return { code, stdout, stderr };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    children.delete(proc);
  }
}

// ---- reading endpoint values ----

/**
 * A string value. Numbers are accepted and turned into strings (endpoints written
 * for the original Shield say "pg_port": 5432 as often as "5432"); an empty string
 * or null counts as absent.
 */
export function str(endpoint: Endpoint, field: string, opts: { required: true; default?: string }): string;
export function str(endpoint: Endpoint, field: string, opts?: { required?: false; default?: string }): string | undefined;
export function str(endpoint: Endpoint, field: string, opts: { required?: boolean; default?: string } = {}): string | undefined {
  const v = endpoint[field];
  if (v === undefined || v === null || v === "") {
    if (opts.required) throw new EndpointMissing(field);
    return opts.default;
  }
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string") throw new EndpointInvalid(field, `must be a string, not ${Array.isArray(v) ? "a list" : typeof v}`);
  return v;
}

/** A list of strings: a JSON array, or a string with one item per line. */
export function strList(endpoint: Endpoint, field: string): string[] {
  const v = endpoint[field];
  if (v === undefined || v === null || v === "") return [];
  if (typeof v === "string") return v.split("\n").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return (v as string[]).filter(Boolean);
  throw new EndpointInvalid(field, "must be a list of strings");
}

/** A TCP port, given as a number or a string of digits. */
export function port(endpoint: Endpoint, field: string, fallback?: number): number | undefined {
  const s = str(endpoint, field);
  if (s === undefined) return fallback;
  const n = /^\d{1,5}$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new EndpointInvalid(field, "must be a port number (1-65535)");
  return n;
}

/** A variable's name followed by "(set)" or "(not set)": validate output never shows a secret. */
export function secretLine(field: string, value: string | undefined): string {
  return `${field}: ${value ? "(set)" : "(not set)"}`;
}
