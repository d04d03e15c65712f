// What an auth provider is: the way a user proves who they are, and which Shield
// role that makes them. Two kinds, by how the proof arrives:
//   - a password provider checks a user name and password itself (local, ldap);
//   - a redirect provider sends the browser elsewhere and reads the answer
//     (oidc: start() gives the URL to send the browser to, finish() reads the
//     callback). Nothing below the sign-in depends on which kind it was.
// Either kind can be asked again later, without the password, whether a user it
// vouched for still exists and with which role (`recheck`): sessions and tokens
// of users from outside are re-checked at least every RECHECK interval.
import type { Role } from "../../catalog/index.ts";
import type { OidcProvider } from "./oidc.ts";

/** A provider could not be asked (server down, timeout, TLS refused): neither yes nor no. */
export class ProviderUnavailable extends Error {}

/** The answer about one user: a role, or why not. */
export type Verdict =
  | { ok: true; role: Role }
  /** unknown: no such user; password: wrong password; no-role: in no group that maps to a role and no default role. */
  | { ok: false; reason: "unknown" | "password" | "no-role" };

export interface PasswordProvider {
  kind: "password";
  name: string;
  type: string;
  /** Checks the password. Throws ProviderUnavailable when it cannot tell. */
  authenticate(name: string, password: string): Promise<Verdict>;
  /** The user's role now, without a password (`password` never comes back). Throws ProviderUnavailable. */
  recheck(name: string): Promise<Verdict>;
}

/**
 * The redirect kind is oidc.ts's provider (kind "redirect"): start() gives the URL to
 * send the browser to and the state to keep, finish() reads the callback, and
 * recheck() asks with what the last sign-in left (the refresh token).
 */
export type AuthProvider = PasswordProvider | OidcProvider;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
/** The highest of some roles (a user in several mapped groups), or undefined for none. */
export function highestRole(roles: Iterable<Role>): Role | undefined {
  let best: Role | undefined;
  for (const r of roles) if (!best || RANK[r] > RANK[best]) best = r;
  return best;
}
export const roleRank = (r: Role) => RANK[r];
