// A private OpenLDAP server for the tests: Debian's slapd, with its own config
// directory (slapd.d, made by slaptest from a slapd.conf written here), mdb
// database and ports, loaded offline (slapadd) from test/fixtures/ldap-users.ldif.
// It listens on ldap:// (StartTLS offered) and ldaps://, with a certificate
// signed by a CA made here with openssl. Never touches a system slapd: every
// path is under its own temporary directory and every port is free when chosen.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ldapts";
import { freePort, requireOrSkip } from "./services.ts";

export const BASE_DN = "dc=shield,dc=test";
export const ROOT_DN = `cn=admin,${BASE_DN}`;
export const ROOT_PASSWORD = "root-secret-pw";
export const READER_DN = `cn=reader,${BASE_DN}`;
export const READER_PASSWORD = "reader-secret-pw";
export const GROUPS = {
  admin: `cn=shield-admins,ou=groups,${BASE_DN}`,
  operator: `cn=shield-operators,ou=groups,${BASE_DN}`,
  viewer: `cn=shield-viewers,ou=groups,${BASE_DN}`,
};
export const userDn = (uid: string) => `uid=${uid},ou=people,${BASE_DN}`;

const SLAPD = ["/usr/sbin/slapd"].find(existsSync) ?? Bun.which("slapd") ?? undefined;
const SLAPTEST = ["/usr/sbin/slaptest"].find(existsSync) ?? Bun.which("slaptest") ?? undefined;
const SLAPADD = ["/usr/sbin/slapadd"].find(existsSync) ?? Bun.which("slapadd") ?? undefined;
const SCHEMA_DIR = "/etc/ldap/schema";
const MODULE_DIR = ["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"].find((d) => existsSync(join(d, "back_mdb.la")) || existsSync(join(d, "back_mdb.so")));

/** True when the LDAP tests can run; false (after a loud warning) when they skip. */
export const slapdAvailable = requireOrSkip(
  "OpenLDAP's slapd", SLAPD !== undefined && SLAPTEST !== undefined && SLAPADD !== undefined && existsSync(join(SCHEMA_DIR, "inetorgperson.schema")) && !!Bun.which("openssl"),
  "Debian's slapd package (slapd, slaptest, slapadd, /etc/ldap/schema) and openssl",
);

export interface SlapdServer {
  /** ldap://127.0.0.1:PORT (StartTLS offered) */
  url: string;
  /** ldaps://localhost:PORT */
  ldapsUrl: string;
  /** The CA that signed the server's certificate (for "localhost" and 127.0.0.1). */
  caFile: string;
  dir: string;
  /** Runs `f` with a client bound as the directory's root, to change people and groups mid-test. */
  asRoot<T>(f: (c: Client) => Promise<T>): Promise<T>;
  /** Stops the server and removes its directory; safe twice. */
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr || r.stdout}`);
}

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, f);
  run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Shield test LDAP CA",
    "-keyout", p("ca.key"), "-out", p("ca.pem")], "openssl (CA)");
  run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", p("server.key"), "-out", p("server.csr")], "openssl (request)");
  writeFileSync(p("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  run("openssl", ["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-days", "2", "-extfile", p("san.ext"), "-out", p("server.pem")], "openssl (sign)");
  return { ca: p("ca.pem"), cert: p("server.pem"), key: p("server.key") };
}

async function waitUntilUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited (${child.exitCode}): ${log()}`);
    const c = new Client({ url, timeout: 1000, connectTimeout: 1000 });
    try {
      await c.bind(ROOT_DN, ROOT_PASSWORD);
      await c.unbind();
      return;
    } catch {
      await c.unbind().catch(() => {});
      if (Date.now() > deadline) throw new Error(`slapd did not answer on ${url} within 15 s: ${log()}`);
      await Bun.sleep(100);
    }
  }
}

export async function startSlapd(fixture = join(import.meta.dir, "../fixtures/ldap-users.ldif")): Promise<SlapdServer> {
  const dir = mkdtempSync(join(tmpdir(), "shield-slapd-"));
  const [port, ldapsPort] = [await freePort(), await freePort()];
  const tls = makeCertificates(dir);
  mkdirSync(join(dir, "slapd.d"));
  mkdirSync(join(dir, "data"));
  const conf = [
    ...["core", "cosine", "inetorgperson", "nis"].map((s) => `include ${join(SCHEMA_DIR, `${s}.schema`)}`),
    `pidfile ${join(dir, "slapd.pid")}`,
    `argsfile ${join(dir, "slapd.args")}`,
    ...(MODULE_DIR ? [`modulepath ${MODULE_DIR}`, "moduleload back_mdb"] : []),
    `TLSCACertificateFile ${tls.ca}`,
    `TLSCertificateFile ${tls.cert}`,
    `TLSCertificateKeyFile ${tls.key}`,
    // The service account reads everything but passwords; a user may bind with its own.
    "access to attrs=userPassword by anonymous auth by self read by * none",
    `access to * by dn.exact="${READER_DN}" read by self read by * none`,
    "database mdb",
    "maxsize 104857600",
    `suffix "${BASE_DN}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PASSWORD}`,
    `directory ${join(dir, "data")}`,
    "index objectClass eq",
    "index uid,member eq",
  ].join("\n") + "\n";
  writeFileSync(join(dir, "slapd.conf"), conf);
  // Data first (slapadd makes the mdb files), then the conversion to slapd.d:
  // slaptest opens every database and fails on one that has no files yet.
  run(SLAPADD!, ["-f", join(dir, "slapd.conf"), "-l", fixture], "slapadd");
  run(SLAPTEST!, ["-f", join(dir, "slapd.conf"), "-F", join(dir, "slapd.d")], "slaptest");

  let output = "";
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://localhost:${ldapsPort}`;
  // -d 0: in the foreground (so it dies with its parent's kill), logging nothing but errors.
  const child = spawn(SLAPD!, ["-F", join(dir, "slapd.d"), "-h", `${url}/ ldaps://127.0.0.1:${ldapsPort}/`, "-d", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (b) => (output += b));
  child.stderr!.on("data", (b) => (output += b));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, child, () => output.slice(-2000));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url, ldapsUrl, caFile: tls.ca, dir,
    async asRoot(f) {
      const c = new Client({ url, timeout: 5000 });
      try {
        await c.bind(ROOT_DN, ROOT_PASSWORD);
        return await f(c);
      } finally {
        await c.unbind().catch(() => {});
      }
    },
    stop,
  };
}
