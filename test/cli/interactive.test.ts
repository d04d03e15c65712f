// The CLI as a person at a terminal meets it, through a real pseudo-terminal (tmux):
// missing fields are asked for (the plugin's endpoint field by field, secrets
// without echo), destructive commands ask first, and shield login asks for the
// password without echo and keeps a token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SHIELD_BIN, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, shield } from "../helpers/cli.ts";
import { openTerminal, tmuxAvailable, type Terminal } from "../helpers/terminal.ts";

const PASSWORD = "cli-tty-admin-password";
const PG_SECRET = "typed-secret-42";

/** Waits for each prompt in turn and types its answer ("": Enter alone). */
async function answer(term: Terminal, steps: [prompt: string, text: string][]): Promise<void> {
  for (const [prompt, text] of steps) {
    await term.waitFor(prompt);
    term.type(text);
  }
}

describe.skipIf(!tmuxAvailable)("the CLI on a terminal", () => {
  let d: DaemonProcess;
  let token: string;
  let config: string;
  let term: Terminal | undefined;
  const env = () => ({ SHIELD_CORE: d.url, SHIELD_TOKEN: token, XDG_CONFIG_HOME: config, TERM: "xterm" });
  const api = (path: string) => fetch(d.url + path, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>);

  beforeAll(async () => {
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    token = await adminToken(d, PASSWORD);
    config = mkdtempSync(join(tmpdir(), "shield-test-cli-tty-"));
  });
  afterAll(async () => {
    term?.close();
    await d?.stop();
    rmSync(config, { recursive: true, force: true });
  });

  test("create target asks for each field, the plugin's endpoint field by field, the password without echo", async () => {
    // (The fixture plugins are installed too: the list offered is the built-in targets and bytes-target.)
    term = openTerminal([SHIELD_BIN, "create", "target"], env());
    await answer(term, [
      ["Name: ", "orders-db"],
      ["Summary: ", "the orders database"],
      ["Plugins that can be a target: bytes-target, files, mysql, postgres", "fs"], // a store plugin: asked again
      ['"fs" is not one of them', "postgres"],
    ]);
    await term.waitFor("Host (pg_host): ");
    expect(term.screen()).toContain("Host name, IP address or socket directory of the server");
    term.type("db.example.com");
    await answer(term, [
      ["Port (pg_port) [5432]: ", ""], // the default
      ["User (pg_user): ", ""], // required: asked again
      ["(required)", "backup"],
      ["Password (pg_password): ", PG_SECRET],
      ["Database (pg_database): ", "orders"],
      ["Tools directory (pg_bindir): ", ""],
      ["Dump options (pg_options): ", ""],
      ["Agent (host:port, or the name of one that dials the core; empty: the core runs the plugin): ", ""],
    ]);
    expect(await term.exit()).toBe(0);
    const screen = term.screen();
    expect(screen).toMatch(/created target orders-db \([0-9a-f-]{36}\)/);
    expect(screen).not.toContain(PG_SECRET);
    term.close();
    term = undefined;
    const [t] = await api("/v1/targets");
    expect(t).toMatchObject({ name: "orders-db", summary: "the orders database", plugin: "postgres", agent: "" });
    expect(JSON.parse(t.endpoint)).toEqual({ pg_host: "db.example.com", pg_port: "5432", pg_user: "backup", pg_password: PG_SECRET, pg_database: "orders" });
  });

  test("edit target with no flags asks again, offering the current values", async () => {
    term = openTerminal([SHIELD_BIN, "edit", "target", "orders-db"], env());
    await answer(term, [
      ["Name [orders-db]: ", ""],
      ["Summary [the orders database]: ", "moved to db2"],
      ["Plugin [postgres]: ", ""],
      ["Host (pg_host) [db.example.com]: ", "db2.example.com"],
      ["Port (pg_port) [5432]: ", ""],
      ["User (pg_user) [backup]: ", ""],
      ["Password (pg_password) [keep; - clears]: ", ""],
      ["Database (pg_database) [orders]: ", ""],
      ["Tools directory (pg_bindir): ", ""],
      ["Dump options (pg_options): ", ""],
      ["Agent (host:port, or the name of one that dials the core; empty: the core runs the plugin): ", ""],
    ]);
    expect(await term.exit()).toBe(0);
    expect(term.screen()).not.toContain(PG_SECRET);
    term.close();
    term = undefined;
    const [t] = await api("/v1/targets");
    expect(t.summary).toBe("moved to db2");
    expect(JSON.parse(t.endpoint)).toEqual({ pg_host: "db2.example.com", pg_port: "5432", pg_user: "backup", pg_password: PG_SECRET, pg_database: "orders" });
  });

  test("edit of a target whose plugin declares no fields offers its endpoint with the secrets masked; Enter keeps them", async () => {
    const endpoint = { size: "10", out: "/tmp/nowhere", password: PG_SECRET };
    const made = await fetch(d.url + "/v1/targets", {
      method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "raw", summary: "", plugin: "bytes-target", endpoint: JSON.stringify(endpoint), agent: "" }),
    }).then((r) => r.json() as Promise<any>);
    term = openTerminal([SHIELD_BIN, "edit", "target", "raw"], env());
    await answer(term, [
      ["Name [raw]: ", ""],
      ["Summary: ", ""],
      ["Plugin [bytes-target]: ", ""],
      ['Endpoint of bytes-target (a JSON object) [{"size":"10","out":"/tmp/nowhere","password":"***"}]: ', ""],
      ["Agent", ""],
    ]);
    expect(await term.exit()).toBe(0);
    expect(term.screen()).not.toContain(PG_SECRET);
    term.close();
    term = undefined;
    expect(JSON.parse((await api(`/v1/target/${made.uuid}`)).endpoint)).toEqual(endpoint);
    await fetch(d.url + `/v1/target/${made.uuid}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
  });

  test("delete asks first: no keeps it, yes deletes it", async () => {
    term = openTerminal([SHIELD_BIN, "delete", "target", "orders-db"], env());
    await term.waitFor(/Delete target "orders-db" \([0-9a-f-]{36}\)\? \[y\/N\]/);
    term.type("n");
    expect(await term.exit()).toBe(1);
    expect(term.screen()).toContain("shield: not confirmed; nothing was changed");
    term.close();
    expect(await api("/v1/targets")).toHaveLength(1);
    term = openTerminal([SHIELD_BIN, "delete", "target", "orders-db"], env());
    await term.waitFor("[y/N] ");
    term.type("y");
    expect(await term.exit()).toBe(0);
    term.close();
    term = undefined;
    expect(await api("/v1/targets")).toEqual([]);
  });

  test("run job --follow keeps a progress line at the bottom, then the outcome", async () => {
    const store = mkdtempSync(join(tmpdir(), "shield-test-cli-tty-store-"));
    try {
      const run = (...args: string[]) => shield(args, { env: env() });
      for (const args of [
        ["create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: store })],
        // Two seconds of nothing before the data: long enough to see the progress line.
        ["create", "target", "--name", "tree", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 100000, sleep: 2 })],
        ["create", "schedule", "--name", "nightly", "--when", "daily at 4am"],
        ["create", "policy", "--name", "week", "--expires", "7d"],
        ["create", "job", "--name", "tree", "--target", "tree", "--store", "disk", "--schedule", "nightly", "--retention", "week", "--paused"],
      ]) expect((await run(...args)).stderr).toBe("");
      term = openTerminal([SHIELD_BIN, "run", "job", "tree", "--follow"], env());
      await term.waitFor(/backup of job tree: task [0-9a-f-]{36}/);
      // The live progress line (test/cli/progress.test.ts has the bar in detail).
      await term.waitFor(/\b(starting|dumping)\b/);
      expect(await term.exit()).toBe(0);
      const screen = term.screen();
      expect(screen).toMatch(/task [0-9a-f]{8} done: archive [0-9a-f-]{36}/);
      expect(screen).toContain("backed up");
      expect(screen).toContain("backing up with password"); // the fixture's stderr, in the task log
      // The progress line was overwritten in place: no line of the final screen is a stale one.
      expect(screen).not.toMatch(/\b(starting|dumping)\b/);
    } finally {
      term?.close();
      term = undefined;
      rmSync(store, { recursive: true, force: true });
    }
  });

  test("shield login asks for the user and the password (without echo) and keeps a token, mode 0600", async () => {
    term = openTerminal([SHIELD_BIN, "login"], { ...env(), SHIELD_TOKEN: "" });
    await answer(term, [["User: ", "admin"], ["Password: ", PASSWORD]]);
    expect(await term.exit()).toBe(0);
    const screen = term.screen();
    term.close();
    term = undefined;
    expect(screen).toContain(`signed in to ${d.url} as admin (admin)`);
    expect(screen).not.toContain(PASSWORD);
    const file = join(config, "shield", "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).not.toContain(PASSWORD);
    const who = await shield(["whoami", "--json"], { env: { XDG_CONFIG_HOME: config, SHIELD_CORE: d.url } });
    expect(who.json()).toMatchObject({ name: "admin", role: "admin" });
  });
});

describe.skipIf(!tmuxAvailable)("the CLI's prompts with plugins written for the original Shield", () => {
  // Fakes of the original plugins (perl) that read every value as a JSON string,
  // installed before the shell fixtures (whose dir-store keeps the archives).
  let d: DaemonProcess;
  let token: string;
  let config: string;
  let store: string;
  let term: Terminal | undefined;
  const env = () => ({ SHIELD_CORE: d.url, SHIELD_TOKEN: token, XDG_CONFIG_HOME: config, TERM: "xterm" });
  const api = (path: string) => fetch(d.url + path, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>);
  const endpointOf = async (name: string) => JSON.parse((await api("/v1/targets")).find((t: any) => t.name === name).endpoint);
  async function session(argv: string[], steps: [string, string][]): Promise<string> {
    term = openTerminal([SHIELD_BIN, ...argv], env());
    await answer(term, steps);
    expect(await term.exit()).toBe(0);
    const screen = term.screen();
    term.close();
    term = undefined;
    return screen;
  }

  beforeAll(async () => {
    d = await startShieldDaemon({
      args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins/original"), "--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")],
      env: { SHIELD_ADMIN_PASSWORD: PASSWORD },
    });
    token = await adminToken(d, PASSWORD);
    config = mkdtempSync(join(tmpdir(), "shield-test-cli-original-"));
    store = mkdtempSync(join(tmpdir(), "shield-test-cli-original-store-"));
  });
  afterAll(async () => {
    term?.close();
    await d?.stop();
    rmSync(config, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  });

  test("the original mysql plugin: the port is sent as typed, an empty password as \"\", and a backup of the target succeeds", async () => {
    await session(["create", "target"], [
      ["Name: ", "my"],
      ["Summary: ", ""],
      ["Plugins that can be a target: bytes-target, files, fs, mysql, postgres", "mysql"],
      ["MySQL Host (mysql_host) [127.0.0.1]: ", "db1"],
      ["MySQL Port (mysql_port) [3306]: ", "33o6"], // not a port: asked again
      ["must be a port number (1-65535)", "3307"],
      ["MySQL Username (mysql_user): ", "root"],
      ["MySQL Password (mysql_password): ", ""], // empty, though the plugin calls it required
      ["Database to Backup (mysql_database): ", ""],
      ["Agent", ""],
    ]);
    expect(await endpointOf("my")).toEqual({ mysql_host: "db1", mysql_port: "3307", mysql_user: "root", mysql_password: "" });
    const run = (...args: string[]) => shield(args, { env: env() });
    for (const args of [
      ["create", "store", "--name", "disk", "--plugin", "dir-store", "--endpoint", JSON.stringify({ dir: store })],
      ["create", "schedule", "--name", "nightly", "--when", "daily at 4am"],
      ["create", "policy", "--name", "week", "--expires", "7d"],
      ["create", "job", "--name", "my", "--target", "my", "--store", "disk", "--schedule", "nightly", "--retention", "week", "--paused"],
    ]) expect((await run(...args)).stderr).toBe("");
    // The original mysql plugin saved a numeric port too, then failed every backup with exit 13.
    const backup = await run("run", "job", "my", "--follow");
    expect(backup.status).toBe(0);
    const [archive] = await api("/v1/archives");
    expect(archive).toMatchObject({ status: "valid" });
  });

  test("editing: Enter keeps the stored password, \"-\" stores an empty one", async () => {
    const edit = (password: string) => session(["edit", "target", "my"], [
      ["Name [my]: ", ""], ["Summary: ", ""], ["Plugin [mysql]: ", ""],
      ["MySQL Host (mysql_host) [db1]: ", ""], ["MySQL Port (mysql_port) [3307]: ", ""], ["MySQL Username (mysql_user) [root]: ", ""],
      ["MySQL Password (mysql_password)", password], ["Database to Backup (mysql_database): ", ""], ["Agent", ""],
    ]);
    expect(await edit(PG_SECRET)).not.toContain(PG_SECRET);
    expect((await endpointOf("my")).mysql_password).toBe(PG_SECRET);
    const screen = await edit("");
    expect(screen).toContain("MySQL Password (mysql_password) [keep; - clears]:");
    expect((await endpointOf("my")).mysql_password).toBe(PG_SECRET);
    await edit("-");
    expect(await endpointOf("my")).toEqual({ mysql_host: "db1", mysql_port: "3307", mysql_user: "root", mysql_password: "" });
  });

  test("an enum is a numbered choice of its values; a wslist is one space-separated string", async () => {
    const choice = await session(["create", "target"], [
      ["Name: ", "cache"], ["Summary: ", ""], ["Plugins that can be a target", "redis-broker"],
      ["Type of Redis Broker (redis_type): ", "3"], // no such choice
      ["must be one of shared, dedicated", "2"],
      ["Agent", ""],
    ]);
    expect(choice).toContain("1) shared  2) dedicated");
    expect(await endpointOf("cache")).toEqual({ redis_type: "dedicated" });
    await session(["create", "target"], [
      ["Name: ", "xb"], ["Summary: ", ""], ["Plugins that can be a target", "xtrabackup"],
      ["MySQL Username (mysql_user): ", "root"], ["MySQL Password (mysql_password): ", "pw"],
      ["Databases to Backup (mysql_databases): ", "db1   db.users db.sessions "],
      ["Agent", ""],
    ]);
    expect((await endpointOf("xb")).mysql_databases).toBe("db1 db.users db.sessions");
  });

  test("a target-only plugin shadowing the built-in fs store: the refusal names both", async () => {
    const r = await shield(["create", "store", "--name", "fsdisk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: store })], { env: env() });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("it shadows the built-in fs store");
    expect(r.stderr).toContain(resolve(import.meta.dir, "../fixtures/plugins/original/fs"));
  });
});
