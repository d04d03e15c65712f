// The core's knowledge of its agents: the key each one presented at first contact
// (pinned in the catalog's agents table; any other key later is refused, so that a
// host taking over an agent's address never receives an endpoint or a data key),
// whether it answers now, its version and the plugins it offers.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentRow, Catalog } from "../catalog/index.ts";
import { AgentKeyMismatch, AgentUnreachable, connectAgent, execCollect, type AgentConnection } from "./client.ts";
import { opensshPrivateKey } from "./keys.ts";
import type { HelloReply } from "./protocol.ts";
import type { NatHub } from "./nat.ts";

/** What a pipeline needs to run a target on an agent (see pipeline.ts). */
export interface AgentTarget {
  address: string;
  /** The pinned fingerprint of the agent's key. */
  hostKey: string;
  /** The core's private key file (the daemon's host_key). */
  keyPath: string;
  /** For a NAT agent: the daemon's unix socket through which the relay reaches it (nat.ts), and how long it waits. */
  via?: string;
  waitMs?: number;
}

export interface AgentStatus {
  name: string;
  reachable: boolean;
  error: string | null;
  version: string | null;
  host_key: string | null;
  first_seen: number | null;
  last_seen: number | null;
  plugins: HelloReply["plugins"];
  /** It dials the core (shield agent --name): not connected means unreachable. */
  nat: boolean;
  /** Targets that name it. */
  targets: string[];
}

export class AgentDirectory {
  private key: string | undefined;
  readonly keyPath: string;

  constructor(private readonly catalog: Pick<Catalog, "agents" | "targets">, dataDir: string, private readonly timeoutMs = 10_000,
    private readonly nat?: NatHub, private readonly natSocket?: string) {
    this.keyPath = join(dataDir, "host_key");
  }

  private privateKey(): string {
    return (this.key ??= opensshPrivateKey(readFileSync(this.keyPath)));
  }

  /**
   * Connects, checking the agent's key against the pin, or pinning it at first
   * contact. A NAT agent that is not connected is waited for up to `natWaitMs`.
   */
  async connect(name: string, natWaitMs = 0): Promise<{ conn: AgentConnection; row: AgentRow }> {
    const pinned = await this.catalog.agents.get(name);
    const sock = this.nat?.isNat(name) ? await this.nat.dial(name, natWaitMs) : undefined;
    const conn = await connectAgent(name, { privateKey: this.privateKey(), expect: pinned?.hostKey, timeoutMs: this.timeoutMs, sock });
    if (pinned) return { conn, row: pinned };
    const now = Math.floor(Date.now() / 1000);
    const row: AgentRow = { name, hostKey: conn.presented, firstSeen: now, lastSeen: now, version: "" };
    if (await this.catalog.agents.pin(row)) return { conn, row };
    // Another daemon on the catalog pinned one meanwhile: it must be this one.
    const other = await this.catalog.agents.get(name);
    if (other && other.hostKey !== conn.presented) {
      conn.close();
      throw new AgentKeyMismatch(`agent ${name} presented the key ${conn.presented}, not the pinned ${other.hostKey}: refused`);
    }
    return { conn, row: other ?? row };
  }

  /** Asks the agent who it is (its version and plugins); records that it answered. */
  async hello(name: string, natWaitMs = 0): Promise<{ row: AgentRow; hello: HelloReply }> {
    const { conn, row } = await this.connect(name, natWaitMs);
    try {
      const r = await execCollect(conn, { op: "hello" }, this.timeoutMs);
      if (r.code !== 0) throw new AgentUnreachable(`agent ${name} did not answer: ${r.stderr.trim() || `exit ${r.code}`}`);
      const hello = JSON.parse(r.stdout) as HelloReply;
      const now = Math.floor(Date.now() / 1000);
      await this.catalog.agents.seen(name, now, hello.version);
      return { row: { ...row, lastSeen: now, version: hello.version }, hello };
    } finally {
      conn.close();
    }
  }

  /**
   * Before a task runs a target on agent `name`: the agent answers with the pinned
   * key and offers `plugin` as a target. Throws with the reason otherwise: a target
   * naming an agent is never run by the core itself instead.
   */
  async prepare(name: string, plugin: string): Promise<AgentTarget> {
    // A task waits for a NAT agent that is away (it may be reconnecting); a listing does not.
    const nat = !!this.nat?.isNat(name);
    const { row, hello } = await this.hello(name, nat ? this.nat!.waitMs : 0);
    const p = hello.plugins.find((x) => x.name === plugin);
    if (!p || !p.target) throw new AgentUnreachable(`agent ${name} (shield ${hello.version}) offers no target plugin "${plugin}"; it offers ${hello.plugins.filter((x) => x.target).map((x) => x.name).join(", ") || "none"}`);
    return { address: name, hostKey: row.hostKey, keyPath: this.keyPath, ...(nat ? { via: this.natSocket, waitMs: this.nat!.waitMs } : {}) };
  }

  /** Runs a target's validate or test on the agent. */
  async run(name: string, op: "validate" | "test", plugin: string, endpoint: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const { conn } = await this.connect(name);
    try {
      return await execCollect(conn, { op, plugin, endpoint }, 60_000);
    } finally {
      conn.close();
    }
  }

  /** Every agent known (pinned, or named by a target), asked now. */
  async status(): Promise<AgentStatus[]> {
    const [rows, targets] = await Promise.all([this.catalog.agents.list(), this.catalog.targets.list()]);
    const names = new Set<string>([...rows.map((r) => r.name), ...(this.nat?.list().map((a) => a.name) ?? [])]);
    const using = new Map<string, string[]>();
    for (const t of targets) {
      if (!t.agent) continue;
      names.add(t.agent);
      using.set(t.agent, [...(using.get(t.agent) ?? []), t.name]);
    }
    return Promise.all([...names].sort().map(async (name): Promise<AgentStatus> => {
      const pinned = rows.find((r) => r.name === name);
      const base = {
        name, nat: !!this.nat?.isNat(name), targets: using.get(name) ?? [], host_key: pinned?.hostKey ?? null,
        first_seen: pinned?.firstSeen ?? null, last_seen: pinned?.lastSeen ?? null, version: pinned?.version || null,
      };
      try {
        const { row, hello } = await this.hello(name);
        return { ...base, reachable: true, error: null, version: hello.version, host_key: row.hostKey, first_seen: row.firstSeen, last_seen: row.lastSeen, plugins: hello.plugins };
      } catch (err) {
        return { ...base, reachable: false, error: (err as Error).message, plugins: [] };
      }
    }));
  }

  /** Forgets an agent's pinned key (it was reinstalled): the next contact pins the new one. */
  reset(name: string): Promise<boolean> {
    return this.catalog.agents.reset(name);
  }
}
