// Users, their API tokens, and checking the credentials of a request.
import { nowSeconds, type Catalog, type Role, type TokenRow, type UserRow } from "../catalog/index.ts";
import { Conflict, InvalidInput, NotFound, TooManyAttempts, Unauthenticated } from "./errors.ts";
import { uniqueNames } from "./names.ts";
import { SignInThrottle, type ThrottleOptions } from "./throttle.ts";
import { isSystemOwner } from "./tasks.ts";

/** Who is making a request; `token` names the API token it came with (via "token"). */
export interface Principal { uuid: string; name: string; role: Role; via: "password" | "token"; token?: string }

/** Where a request comes from, for the sign-in throttle: the client's IP address. */
export type ClientAddress = string;
/** The address of a request whose client is not known (an in-process call without one). */
export const UNKNOWN_ADDRESS = "unknown";

const TOKEN_PREFIX = "shield_";
// Verifying a password costs tens of milliseconds by design. Clients using Basic
// auth send it on every request, so remember a success briefly. The cache key
// includes the stored hash: a changed password misses the cache at once.
const VERIFIED_TTL_MS = 5 * 60_000;

export function sha256Hex(s: string): string {
  return new Bun.CryptoHasher("sha256").update(s).digest("hex");
}

// Verified in place of a password when the user name is unknown, so that a wrong
// name costs what a wrong password does and the time of a refusal does not tell
// which names exist. Made once, with the same algorithm and cost as real hashes.
let dummyHash: Promise<string> | undefined;
const unknownUserHash = () => (dummyHash ??= Bun.password.hash(crypto.randomUUID()));

export function userRules(catalog: Catalog, throttleOptions?: ThrottleOptions) {
  const names = uniqueNames("user", catalog.users.byName);
  const verified = new Map<string, number>();
  const throttle = new SignInThrottle(throttleOptions);
  // Made now, not at the first unknown name: that one would take twice as long.
  void unknownUserHash();

  async function passwordMatches(user: UserRow, password: string): Promise<boolean> {
    const key = sha256Hex(`${user.passwordHash}\0${password}`);
    const until = verified.get(key);
    if (until && until > Date.now()) return true;
    if (!(await Bun.password.verify(password, user.passwordHash))) return false;
    if (verified.size > 10_000) verified.clear();
    verified.set(key, Date.now() + VERIFIED_TTL_MS);
    return true;
  }

  async function lastAdminGuard(user: UserRow, newRole?: Role) {
    if (user.role === "admin" && newRole !== "admin" && (await catalog.users.countAdmins()) <= 1) {
      throw new Conflict(`user "${user.name}" is the last admin; make another user admin first`);
    }
  }

  return {
    async get(uuid: string): Promise<UserRow> {
      const user = await catalog.users.get(uuid);
      if (!user) throw new NotFound("user", uuid);
      return user;
    },
    async create(v: { name: string; password: string; role: Role }): Promise<string> {
      // Tasks owned by "system" are the scheduler's: a user by that name would pass for it.
      if (isSystemOwner(v.name)) throw new InvalidInput(`name: "${v.name}" is reserved for the scheduler`, { name: "is reserved for the scheduler" });
      await names.check(v.name);
      const uuid = crypto.randomUUID();
      const passwordHash = await Bun.password.hash(v.password);
      await names.guard(v.name, () => catalog.users.create({ uuid, name: v.name, role: v.role, passwordHash, createdAt: nowSeconds() }));
      return uuid;
    },
    async update(uuid: string, v: { password?: string; role?: Role }): Promise<void> {
      const user = await this.get(uuid);
      // Nothing to change (`{}`): an UPDATE with no columns is an SQL error, not a no-op.
      if (v.role === undefined && v.password === undefined) return;
      if (v.role !== undefined) await lastAdminGuard(user, v.role);
      const passwordHash = v.password === undefined ? undefined : await Bun.password.hash(v.password);
      await catalog.users.update(uuid, { role: v.role, passwordHash });
    },
    async delete(uuid: string): Promise<void> {
      const user = await this.get(uuid);
      await lastAdminGuard(user);
      await catalog.users.delete(uuid);
    },

    /**
     * Checks an Authorization header; throws Unauthenticated for anything but
     * valid credentials, and TooManyAttempts while `address` must wait after
     * failed passwords (see throttle.ts).
     */
    async authenticate(header: string | undefined, address: ClientAddress = UNKNOWN_ADDRESS): Promise<Principal> {
      if (!header) throw new Unauthenticated();
      const [scheme, value = ""] = header.trim().split(/\s+/, 2);
      if (/^bearer$/i.test(scheme ?? "")) {
        const found = await catalog.tokens.userByHash(sha256Hex(value));
        if (!found) throw new Unauthenticated("invalid or revoked API token");
        // Recording use is bookkeeping: a failure to write it must not fail the request.
        catalog.tokens.touch(found.token.uuid, nowSeconds()).catch(() => {});
        return { uuid: found.user.uuid, name: found.user.name, role: found.user.role, via: "token", token: found.token.name };
      }
      if (/^basic$/i.test(scheme ?? "")) {
        const decoded = Buffer.from(value, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0) throw new Unauthenticated("malformed Basic credentials: expected base64 of user:password");
        const name = decoded.slice(0, colon);
        const password = decoded.slice(colon + 1);
        const wait = throttle.retryAfter(name, address);
        if (wait) throw new TooManyAttempts(wait);
        // No user name holds NUL (the API refuses it), and PostgreSQL would fail on the query.
        const user = name.includes("\0") ? undefined : await catalog.users.byName(name);
        const ok = user ? await passwordMatches(user, password) : (await Bun.password.verify(password, await unknownUserHash()), false);
        if (!user || !ok) {
          throttle.failed(name, address);
          throw new Unauthenticated("wrong user name or password");
        }
        throttle.succeeded(name, address);
        return { uuid: user.uuid, name: user.name, role: user.role, via: "password" };
      }
      throw new Unauthenticated(`unsupported authorization scheme "${scheme}": use Basic or Bearer`);
    },

    tokens: {
      list(user: Principal): Promise<TokenRow[]> {
        return catalog.tokens.listForUser(user.uuid);
      },
      /** Returns the token itself: the only time it is ever seen, since only its hash is kept. */
      async create(user: Principal, name: string): Promise<{ uuid: string; token: string }> {
        const uuid = crypto.randomUUID();
        const token = TOKEN_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
        try {
          await catalog.tokens.create({ uuid, userUuid: user.uuid, name, tokenHash: sha256Hex(token), createdAt: nowSeconds() });
        } catch (err) {
          if ((await catalog.tokens.listForUser(user.uuid)).some((t) => t.name === name)) {
            throw new Conflict(`you already have a token named "${name}"`);
          }
          throw err;
        }
        return { uuid, token };
      },
      async revoke(user: Principal, uuid: string): Promise<void> {
        if (!(await catalog.tokens.delete(uuid, user.uuid))) throw new NotFound("token", uuid);
      },
    },

    /** At first start: an admin, so that someone can sign in. Returns the password when it was generated. */
    async bootstrapAdmin(password: string | undefined): Promise<{ created: boolean; generated?: string }> {
      if ((await catalog.users.count()) > 0) return { created: false };
      if (password !== undefined && password.length < 8) throw new InvalidInput("SHIELD_ADMIN_PASSWORD must be at least 8 characters");
      const generated = password === undefined ? Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url") : undefined;
      try {
        await this.create({ name: "admin", password: password ?? generated!, role: "admin" });
      } catch (err) {
        // Another daemon sharing the catalog created it first.
        if (err instanceof Conflict) return { created: false };
        throw err;
      }
      return { created: true, generated };
    },
  };
}
