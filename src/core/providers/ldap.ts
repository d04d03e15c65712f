// The `ldap` provider: a directory (OpenLDAP, Active Directory, 389-ds) checks the
// password and its groups give the role. The usual three steps: bind as a service
// account, search the user by a filter under a base DN, bind as the user found
// with the password given. Groups come from the user's memberOf attribute (AD,
// OpenLDAP with the memberof overlay) and, when group_base_dn is set, from a
// search for groups listing the user as member/uniqueMember (plain OpenLDAP).
// Each call opens its own connection and closes it: sign-ins are rare, and a
// long-lived connection would go stale behind firewalls and idle timeouts.
import { readFileSync } from "node:fs";
import { Client, InvalidCredentialsError } from "ldapts";
import type { Role } from "../../catalog/index.ts";
import { highestRole, ProviderUnavailable, type PasswordProvider, type Verdict } from "./contract.ts";

export interface LdapConfig {
  /** ldap://host:389 or ldaps://host:636 */
  url: string;
  /** Upgrade an ldap:// connection with StartTLS before anything is sent. */
  start_tls?: boolean;
  /** PEM file of the CA that signed the server's certificate (LDAPS and StartTLS). */
  ca_file?: string;
  /** The service account that searches; anonymous search when left out. */
  bind_dn?: string;
  bind_password?: string;
  base_dn: string;
  /** With a {username} placeholder, which is replaced by the name escaped per RFC 4515. */
  user_filter?: string;
  /** Where groups are searched for (member / uniqueMember = the user's DN); memberOf alone when left out. */
  group_base_dn?: string;
  /** Group DN → role; a user in several gets the highest. */
  groups?: { admin?: string[]; operator?: string[]; viewer?: string[] };
  /** The role of a user in no mapped group; left out (null): such a user is refused. */
  default_role?: Role | null;
  /** Each LDAP operation, and the connection, give up after this long (default 5000 ms). */
  timeout_ms?: number;
}

export const DEFAULT_USER_FILTER = "(uid={username})";

/**
 * RFC 4515 §3: in a filter's assertion value, `*`, `(`, `)`, `\` and NUL are
 * written as a backslash and two hex digits. So `*)(uid=*` matches only a user
 * literally named that, never everyone.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** DNs compared as directories do: case and the spaces after separators do not count. */
export function normalizeDn(dn: string): string {
  return dn.split(",").map((p) => p.trim().toLowerCase()).join(",");
}

export function userFilter(config: Pick<LdapConfig, "user_filter">, name: string): string {
  return (config.user_filter ?? DEFAULT_USER_FILTER).replaceAll("{username}", escapeFilterValue(name));
}

export function ldapProvider(name: string, config: LdapConfig): PasswordProvider {
  const timeout = config.timeout_ms ?? 5000;
  const tlsOptions = () => (config.ca_file ? { ca: [readFileSync(config.ca_file)] } : {});

  async function connect<T>(f: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({
      url: config.url, timeout, connectTimeout: timeout,
      ...(config.url.startsWith("ldaps:") ? { tlsOptions: tlsOptions() } : {}),
    });
    try {
      if (config.start_tls) await client.startTLS(tlsOptions());
      return await f(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  /** Anything but a verdict (refused connection, timeout, bad service account) means the provider cannot tell. */
  async function asking<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ProviderUnavailable) throw err;
      throw new ProviderUnavailable(`LDAP provider "${name}" (${config.url}): ${(err as Error).message || String(err)}`);
    }
  }

  async function findUser(client: Client, userName: string): Promise<{ dn: string; memberOf: string[] } | undefined> {
    if (config.bind_dn) {
      try {
        await client.bind(config.bind_dn, config.bind_password ?? "");
      } catch (err) {
        if (err instanceof InvalidCredentialsError) throw new ProviderUnavailable(`LDAP provider "${name}": the service account ${config.bind_dn} was refused`);
        throw err;
      }
    }
    const { searchEntries } = await client.search(config.base_dn, {
      scope: "sub", filter: userFilter(config, userName), attributes: ["dn", "memberOf"], sizeLimit: 2, timeLimit: Math.ceil(timeout / 1000),
    });
    // Two entries for one name: the filter is too loose to tell who signs in.
    if (searchEntries.length !== 1) return undefined;
    const entry = searchEntries[0]!;
    const memberOf = entry.memberOf === undefined ? [] : ([] as unknown[]).concat(entry.memberOf).map(String);
    return { dn: entry.dn, memberOf };
  }

  async function roleOf(client: Client, user: { dn: string; memberOf: string[] }): Promise<Verdict> {
    const groups = new Set(user.memberOf.map(normalizeDn));
    if (config.group_base_dn) {
      // Searched as the service account again: the user may not be allowed to read groups.
      if (config.bind_dn) await client.bind(config.bind_dn, config.bind_password ?? "");
      const dn = escapeFilterValue(user.dn);
      const { searchEntries } = await client.search(config.group_base_dn, {
        scope: "sub", filter: `(|(member=${dn})(uniqueMember=${dn}))`, attributes: ["dn"], timeLimit: Math.ceil(timeout / 1000),
      });
      for (const g of searchEntries) groups.add(normalizeDn(g.dn));
    }
    const roles: Role[] = [];
    for (const role of ["admin", "operator", "viewer"] as const) {
      if ((config.groups?.[role] ?? []).some((dn) => groups.has(normalizeDn(dn)))) roles.push(role);
    }
    const role = highestRole(roles) ?? config.default_role ?? undefined;
    return role ? { ok: true, role } : { ok: false, reason: "no-role" };
  }

  return {
    kind: "password", name, type: "ldap",
    authenticate: (userName, password) => asking(() => connect(async (client) => {
      // An empty password is an "unauthenticated bind" (RFC 4513 §5.1.2) that many servers accept: never a sign-in.
      if (!password) return { ok: false, reason: "password" } as const;
      const user = await findUser(client, userName);
      if (!user) return { ok: false, reason: "unknown" } as const;
      try {
        await client.bind(user.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return { ok: false, reason: "password" } as const;
        throw err;
      }
      return roleOf(client, user);
    })),
    recheck: (userName) => asking(() => connect(async (client) => {
      const user = await findUser(client, userName);
      if (!user) return { ok: false, reason: "unknown" } as const;
      return roleOf(client, user);
    })),
  };
}
