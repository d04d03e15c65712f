// Users, their API tokens, and checking the credentials of a request.
import { nowSeconds, type Catalog, type Role, type TokenRow, type UserRow } from "../catalog/index.ts";
import { Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts, Unauthenticated, Unavailable } from "./errors.ts";
import { LOCAL, ProviderUnavailable, roleRank, SsoRefused, SsoUnsupported, type PasswordProvider, type ProviderRules, type SsoIdentity, type Verdict } from "./providers/index.ts";
import { uniqueNames } from "./names.ts";
import { SignInThrottle, type ThrottleOptions } from "./throttle.ts";
import { isSystemOwner } from "./tasks.ts";

/**
 * Who is making a request. `role` is what this request may do: the user's role,
 * or less when the token it came with is limited (`userRole` is the user's own).
 * `token`/`tokenUuid`/`tokenExpiresAt` describe that token (via "token");
 * `provider` names the auth provider that vouched for the user.
 */
export interface Principal {
  uuid: string; name: string; role: Role; via: "password" | "token" | "none" | "sso"; provider: string;
  userRole?: Role; token?: string; tokenUuid?: string; tokenExpiresAt?: number | null;
}

/** Sessions and tokens of users from a provider other than local are re-checked with it at least this often. */
export const DEFAULT_RECHECK_SECONDS = 15 * 60;
/** The user every request without credentials is, while the `none` provider is on. */
export const LAB_USER = "lab";

/** Where a request comes from, for the sign-in throttle: the client's IP address. */
export type ClientAddress = string;
/** The address of a request whose client is not known (an in-process call without one). */
export const UNKNOWN_ADDRESS = "unknown";

const TOKEN_PREFIX = "shield_";
// The password hash of users who sign in elsewhere: no password verifies against it.
const NO_PASSWORD = "!external";
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

export interface UserRulesOptions {
  throttle?: ThrottleOptions;
  /** The configured auth providers; local users only when left out. */
  providers?: ProviderRules;
  /** How old a provider's word about a user may get before it is asked again (default 15 min). */
  recheckSeconds?: number;
  /** Whether this daemon listens on loopback only: the none provider counts only then. */
  loopbackOnly?: boolean;
}

/** The API's way of writing a time (UTC, to the second). */
const formatUtc = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");

const unavailable = (err: ProviderUnavailable) => new Unavailable(`${err.message}; try again later, or sign in as a local user`);

export function userRules(catalog: Catalog, opts: UserRulesOptions = {}) {
  const throttleOptions = opts.throttle;
  const recheckSeconds = opts.recheckSeconds ?? DEFAULT_RECHECK_SECONDS;
  const names = uniqueNames("user", catalog.users.byName);
  const verified = new Map<string, number>();
  const throttle = new SignInThrottle(throttleOptions);
  // Made now, not at the first unknown name: that one would take twice as long.
  void unknownUserHash();

  // Verifications under way: requests that come together with the same credentials (a
  // client filing 200 runs at once as the cache expires) wait for one hash, not 200 of them.
  const verifying = new Map<string, Promise<boolean>>();

  async function passwordMatches(user: UserRow, password: string): Promise<boolean> {
    const key = sha256Hex(`${user.passwordHash}\0${password}`);
    const until = verified.get(key);
    if (until && until > Date.now()) return true;
    let check = verifying.get(key);
    if (!check) {
      check = Bun.password.verify(password, user.passwordHash).finally(() => verifying.delete(key));
      verifying.set(key, check);
    }
    if (!(await check)) return false;
    if (verified.size > 10_000) verified.clear();
    verified.set(key, Date.now() + VERIFIED_TTL_MS);
    return true;
  }

  async function lastAdminGuard(user: UserRow, newRole?: Role) {
    if (user.role === "admin" && newRole !== "admin" && (await catalog.users.countAdmins()) <= 1) {
      throw new Conflict(`user "${user.name}" is the last admin; make another user admin first`);
    }
  }

  async function ask(f: () => Promise<Verdict>): Promise<Verdict> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ProviderUnavailable) throw unavailable(err);
      throw err;
    }
  }

  function refusal(verdict: Verdict & { ok: false }, provider: string, name: string): string {
    if (verdict.reason === "no-role") return `user "${name}" is in no group of the ${provider} provider that maps to a Shield role`;
    if (verdict.reason === "unknown") return `user "${name}" is no longer known to the ${provider} provider`;
    return "wrong user name or password";
  }

  /** The role the provider gives now, written to the catalog when it changed (GET /v1/users shows it). */
  async function refreshRole(user: UserRow, verdict: Verdict & { ok: true }): Promise<Role> {
    if (verdict.role !== user.role) await catalog.users.update(user.uuid, { role: verdict.role });
    return verdict.role;
  }

  /**
   * Asks the provider of a user signed in by token (a web session or an API
   * token) whether they still exist and with which role. One who does not loses
   * every token at once; a provider that cannot answer fails the request (503)
   * rather than let a removed user in.
   */
  async function recheck(user: UserRow): Promise<Role> {
    if (user.provider === "none") {
      if (opts.providers && (await opts.providers.noneEnabled())) return user.role;
      await catalog.tokens.deleteForUser(user.uuid);
      throw new Unauthenticated("the none provider is off: its tokens no longer work");
    }
    const provider = await opts.providers?.byName(user.provider);
    if (!provider) {
      await catalog.tokens.deleteForUser(user.uuid);
      throw new Unauthenticated(`user "${user.name}" signs in through the ${user.provider} provider, which is no longer configured`);
    }
    if (provider.kind === "redirect") {
      // OIDC: asked with the refresh token kept from the user's last sign-in (see oidc.ts).
      const kept = opts.providers!.openUserData(user.providerData);
      const r = await sso(() => provider.recheck(user.name, kept));
      if (!r.verdict.ok) {
        await catalog.tokens.deleteForUser(user.uuid);
        throw new Unauthenticated(r.verdict.reason === "unknown" && !kept?.refresh_token
          ? `the session of user "${user.name}" needs a re-check, but the ${provider.name} provider gave no refresh token to ask it with: sign in again`
          : refusal(r.verdict, provider.name, user.name));
      }
      if (r.data && r.data.refresh_token !== kept?.refresh_token) await catalog.users.update(user.uuid, { providerData: opts.providers!.sealUserData(r.data) });
      return refreshRole(user, r.verdict);
    }
    const verdict = await ask(() => provider.recheck(user.name));
    if (!verdict.ok) {
      await catalog.tokens.deleteForUser(user.uuid);
      throw new Unauthenticated(refusal(verdict, provider.name, user.name));
    }
    return refreshRole(user, verdict);
  }

  /** A single sign-on provider's answer: refused (401, saying why) or unreachable (503). */
  async function sso<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ProviderUnavailable) throw unavailable(err);
      if (err instanceof SsoRefused) throw new Unauthenticated(err.message);
      if (err instanceof SsoUnsupported) throw new Conflict(err.message);
      throw err;
    }
  }

  /** A provider's user signing in for the first time: added to the catalog, with no usable local password. */
  async function firstSignIn(name: string, provider: { name: string }, role: Role, providerData: string | null = null): Promise<Omit<Principal, "via">> {
    if (isSystemOwner(name)) throw new Unauthenticated(`user name "${name}" is reserved for the scheduler`);
    const uuid = crypto.randomUUID();
    try {
      await catalog.users.create({ uuid, name, role, provider: provider.name, passwordHash: NO_PASSWORD, createdAt: nowSeconds(), providerData });
    } catch (err) {
      // Two first requests at once: the other one added the user.
      const again = await catalog.users.byName(name);
      if (!again || again.provider !== provider.name) throw err;
      return { uuid: again.uuid, name, role, userRole: role, provider: provider.name };
    }
    return { uuid, name, role, userRole: role, provider: provider.name };
  }

  /** The lab's user while the none provider is on: added at the first request, always admin. */
  async function labPrincipal(): Promise<Principal> {
    let user = await catalog.users.byName(LAB_USER);
    if (!user) {
      try {
        await catalog.users.create({ uuid: crypto.randomUUID(), name: LAB_USER, role: "admin", provider: "none", passwordHash: NO_PASSWORD, createdAt: nowSeconds() });
      } catch { /* added by a request at the same time; read below */ }
      user = await catalog.users.byName(LAB_USER);
    }
    if (!user || user.provider !== "none") throw new Unauthenticated(`the none provider is on but a user named "${LAB_USER}" is not its: sign in`);
    return { uuid: user.uuid, name: user.name, role: "admin", userRole: "admin", via: "none", provider: "none" };
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
      if (v.password !== undefined && user.provider !== LOCAL) {
        throw new Conflict(`user "${user.name}" signs in through the ${user.provider} provider: their password is kept there, not here`);
      }
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
      if (!header) {
        if (opts.providers && (await opts.providers.noneEnabled())) {
          // Asked per daemon: another daemon on the same catalog may listen wider than this one did.
          if (opts.loopbackOnly) return labPrincipal();
          throw new Unauthenticated("the none auth provider is on, but this daemon does not listen on loopback only: sign in");
        }
        throw new Unauthenticated();
      }
      const [scheme, value = ""] = header.trim().split(/\s+/, 2);
      if (/^bearer$/i.test(scheme ?? "")) {
        const found = await catalog.tokens.userByHash(sha256Hex(value));
        if (!found) throw new Unauthenticated("invalid or revoked API token");
        const { token, user } = found;
        const now = nowSeconds();
        if (token.expiresAt !== null && token.expiresAt <= now) {
          throw new Unauthenticated(`API token "${token.name}" expired at ${formatUtc(token.expiresAt)} UTC; create a new one`);
        }
        let userRole = user.role;
        if (user.provider !== LOCAL && now - (token.checkedAt ?? token.createdAt) >= recheckSeconds) {
          userRole = await recheck(user);
          catalog.tokens.checked(token.uuid, now).catch(() => {});
        }
        // Recording use is bookkeeping: a failure to write it must not fail the request. At
        // most once a minute per token: a client polling a task would otherwise write the
        // catalog on every request (last_used_at is shown to the minute anyway).
        if (token.lastUsedAt === null || now - token.lastUsedAt >= 60) catalog.tokens.touch(token.uuid, now).catch(() => {});
        const role = token.role && roleRank(token.role) < roleRank(userRole) ? token.role : userRole;
        return {
          uuid: user.uuid, name: user.name, role, userRole, via: "token", provider: user.provider,
          token: token.name, tokenUuid: token.uuid, tokenExpiresAt: token.expiresAt,
        };
      }
      if (/^basic$/i.test(scheme ?? "")) {
        const decoded = Buffer.from(value, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0) throw new Unauthenticated("malformed Basic credentials: expected base64 of user:password");
        const name = decoded.slice(0, colon);
        const password = decoded.slice(colon + 1);
        // Every provider's sign-ins are throttled alike: a directory's passwords are guessed the same way.
        const wait = throttle.retryAfter(name, address);
        if (wait) throw new TooManyAttempts(wait);
        const refuse = (message = "wrong user name or password"): never => {
          throttle.failed(name, address);
          throw new Unauthenticated(message);
        };
        // No user name holds NUL (the API refuses it), and PostgreSQL would fail on the query.
        const user = name.includes("\0") ? undefined : await catalog.users.byName(name);
        if (user && user.provider === LOCAL) {
          if (!(await passwordMatches(user, password))) return refuse();
          throttle.succeeded(name, address);
          return { uuid: user.uuid, name: user.name, role: user.role, userRole: user.role, via: "password", provider: LOCAL };
        }
        // The lab's user has no password: it is only ever the request without credentials.
        if (user?.provider === "none") return refuse();
        if (user) {
          const provider = await opts.providers?.byName(user.provider);
          if (provider?.kind === "redirect") {
            return refuse(`user "${name}" signs in through the ${provider.name} provider (single sign-on): use the web UI's "Sign in with" button or shield login --sso`);
          }
          // Basic sends the password with every request: the provider is asked every time, so a
          // user removed or demoted there is refused or demoted at the next request.
          if (!provider) return refuse(`user "${name}" signs in through the ${user.provider} provider, which is no longer configured`);
          const verdict = await ask(() => provider.authenticate(name, password));
          if (!verdict.ok) {
            // Gone from the directory or from its groups: their sessions end now too. A wrong
            // password (perhaps someone else's guess) ends nothing.
            if (verdict.reason !== "password") await catalog.tokens.deleteForUser(user.uuid);
            return refuse(refusal(verdict, provider.name, name));
          }
          throttle.succeeded(name, address);
          const role = await refreshRole(user, verdict);
          return { uuid: user.uuid, name: user.name, role, userRole: role, via: "password", provider: user.provider };
        }
        // A name Shield has not seen: the providers are asked in the order they were added; the
        // first that knows the name decides, and its users appear in the catalog at first sign-in.
        let down: ProviderUnavailable | undefined;
        for (const provider of (await opts.providers?.passwordProviders()) ?? []) {
          let verdict: Verdict;
          try {
            verdict = await provider.authenticate(name, password);
          } catch (err) {
            if (!(err instanceof ProviderUnavailable)) throw err;
            down ??= err;
            continue;
          }
          if (verdict.ok) {
            throttle.succeeded(name, address);
            return { ...(await firstSignIn(name, provider, verdict.role)), via: "password" };
          }
          if (verdict.reason !== "unknown") return refuse(refusal(verdict, provider.name, name));
        }
        if (down) throw unavailable(down);
        // So that a wrong name costs what a wrong password does.
        await Bun.password.verify(password, await unknownUserHash());
        return refuse();
      }
      throw new Unauthenticated(`unsupported authorization scheme "${scheme}": use Basic or Bearer`);
    },

    /** A single sign-on provider asked outside a sign-in (start, device): refusals 401, outages 503. */
    ssoCall: <T>(f: () => Promise<T>): Promise<T> => sso(f),

    /**
     * A user a single sign-on provider vouched for (the code flow's callback or the
     * device grant): added at first sign-in, their role refreshed at each, and what
     * re-checks need (the refresh token) kept sealed. A name held by a user of
     * another provider, or by another subject of this one, is refused: an outside
     * identity never takes over an account it did not make.
     */
    async ssoSignIn(providerName: string, answer: () => Promise<SsoIdentity>): Promise<Principal> {
      const id = await sso(answer);
      const name = id.name;
      const user = name.includes("\0") ? undefined : await catalog.users.byName(name);
      if (user && user.provider !== providerName) {
        throw new Unauthenticated(`a user named "${name}" exists already and signs in through the ${user.provider} provider, not ${providerName}`);
      }
      const kept = user ? opts.providers!.openUserData(user.providerData) : undefined;
      if (user && kept && kept.sub !== id.data.sub) {
        throw new Unauthenticated(`user "${name}" signed in before as another subject of the ${providerName} provider; an admin must delete the user to let this one in`);
      }
      if (!id.verdict.ok) {
        if (user) await catalog.tokens.deleteForUser(user.uuid);
        throw new Unauthenticated(id.verdict.reason === "no-role"
          ? `user "${name}" has no value of the ${providerName} provider's role claim that maps to a Shield role`
          : refusal(id.verdict, providerName, name));
      }
      const data = opts.providers!.sealUserData(id.data);
      if (!user) return { ...(await firstSignIn(name, { name: providerName }, id.verdict.role, data)), via: "sso" };
      await catalog.users.update(user.uuid, { providerData: data });
      const role = await refreshRole(user, id.verdict);
      return { uuid: user.uuid, name: user.name, role, userRole: role, via: "sso", provider: providerName };
    },

    tokens: {
      list(user: Principal): Promise<TokenRow[]> {
        return catalog.tokens.listForUser(user.uuid);
      },
      /**
       * Returns the token itself: the only time it is ever seen, since only its hash is kept.
       * `role` limits it below the caller's role (never above: 403); a token made with a
       * limited token is limited alike. `expiresAt` (seconds) ends it; a token made with a
       * token that expires expires no later.
       */
      async create(user: Principal, name: string, o: { role?: Role; expiresAt?: number } = {}): Promise<{ uuid: string; token: string; expiresAt: number | null; role: Role }> {
        if (o.role && roleRank(o.role) > roleRank(user.role)) {
          throw new Forbidden(`a token cannot have the ${o.role} role: yours is ${user.role} here`);
        }
        const role = o.role ?? user.role;
        const limit = user.userRole && roleRank(role) < roleRank(user.userRole) ? role : null;
        if (o.expiresAt !== undefined && o.expiresAt <= nowSeconds()) throw new InvalidInput("expires_at: must be in the future", { expires_at: "must be in the future" });
        let expiresAt = o.expiresAt ?? null;
        if (user.tokenExpiresAt) expiresAt = Math.min(expiresAt ?? Infinity, user.tokenExpiresAt);
        const uuid = crypto.randomUUID();
        const token = TOKEN_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
        try {
          await catalog.tokens.create({ uuid, userUuid: user.uuid, name, tokenHash: sha256Hex(token), createdAt: nowSeconds(), role: limit, expiresAt });
        } catch (err) {
          if ((await catalog.tokens.listForUser(user.uuid)).some((t) => t.name === name)) {
            throw new Conflict(`you already have a token named "${name}"`);
          }
          throw err;
        }
        return { uuid, token, expiresAt, role };
      },
      async revoke(user: Principal, uuid: string): Promise<void> {
        if (!(await catalog.tokens.delete(uuid, user.uuid))) throw new NotFound("token", uuid);
      },
    },

    /** Every user's sessions: web sessions and API tokens alike (admins). */
    sessions: {
      async list(userUuid?: string) {
        if (userUuid && !(await catalog.users.get(userUuid))) throw new NotFound("user", userUuid);
        return catalog.tokens.listAll(userUuid);
      },
      async revoke(uuid: string): Promise<void> {
        if (!(await catalog.tokens.deleteAny(uuid))) throw new NotFound("session", uuid);
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
