// The configured auth providers: admins add, change and remove them; sign-in and
// the re-checks of sessions ask them. "local" (the catalog's users and password
// hashes) is built in, has no row and cannot be removed, so a broken directory
// never locks an admin out. Config is kept as JSON with its secrets (the LDAP
// service account's bind_password) sealed with the master key like endpoint
// secrets, and never answered back: a change that leaves bind_password out keeps
// the one stored. Read from the catalog at each use, so every daemon sharing the
// catalog sees a change at once.
import { nowSeconds, type AuthProviderRow, type Catalog } from "../../catalog/index.ts";
import { Conflict, InvalidInput, NotFound } from "../errors.ts";
import { isUniqueViolation } from "../../catalog/index.ts";
import * as vb from "valibot";
import { checkConfig, LOCAL, ProviderName, PROVIDER_TYPES, type ProviderConfig, type ProviderType } from "./config.ts";
import { ldapProvider, type LdapConfig } from "./ldap.ts";
import { oidcProvider, type OidcConfig, type OidcProvider, type OidcUserData } from "./oidc.ts";
import { EndpointSecrets, SEALED_PREFIX } from "../../pipeline/endpoint-secrets.ts";
import type { PasswordProvider } from "./contract.ts";

export { ProviderUnavailable, roleRank, type AuthProvider, type PasswordProvider, type Verdict } from "./contract.ts";
export { LOCAL, PROVIDER_TYPES, type ProviderType } from "./config.ts";
export { SsoRefused, SsoUnsupported, type OidcProvider, type OidcUserData, type SsoIdentity, type CodeFlowState, type DeviceFlowState } from "./oidc.ts";

/** Secret settings: sealed at rest, never shown. */
const SECRET_SETTINGS = new Set(["bind_password", "client_secret"]);
export const REDACTED_SETTING = "********";

export interface ProviderView { name: string; type: "local" | ProviderType; builtin: boolean; config: Record<string, unknown>; createdAt: number | null }

export interface ProviderRulesOptions {
  secrets?: EndpointSecrets;
  /** Whether the daemon listens on loopback only: `none` is refused otherwise. Unknown (undefined): refused. */
  loopbackOnly?: boolean;
}

// Without a master key (tests of the rules alone), flow states are sealed with a key of
// this process: they then work on this daemon only, which is all such a setup has.
let processSecrets: EndpointSecrets | undefined;

export function providerRules(catalog: Catalog, opts: ProviderRulesOptions = {}) {
  const blobSecrets = () => opts.secrets ?? (processSecrets ??= new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32))));
  /**
   * An opaque, tamper-proof text for a value handed to a client and read back later
   * (a sign-in's PKCE verifier, nonce and state; a device code): AES-GCM under the
   * master key, with `kind` bound in, so one kind cannot be passed off as another.
   */
  const sealBlob = (kind: string, value: unknown): string => {
    const sealed = JSON.parse(blobSecrets().seal(JSON.stringify({ [kind]: value }), new Set([kind]))) as Record<string, string>;
    return sealed[kind]!;
  };
  const openBlob = <T>(kind: string, text: string): T | undefined => {
    if (typeof text !== "string" || !text.startsWith(SEALED_PREFIX)) return undefined;
    try {
      const value = (JSON.parse(blobSecrets().open(JSON.stringify({ [kind]: text })).endpoint) as Record<string, unknown>)[kind];
      return value && typeof value === "object" ? (value as T) : undefined;
    } catch {
      return undefined;
    }
  };
  const seal = (config: ProviderConfig) => {
    const json = JSON.stringify(config);
    return opts.secrets ? opts.secrets.seal(json, SECRET_SETTINGS) : json;
  };
  const open = (row: AuthProviderRow): Record<string, unknown> => {
    try {
      return JSON.parse(opts.secrets ? opts.secrets.open(row.config).endpoint : row.config) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`the settings of auth provider "${row.name}" cannot be read: ${(err as Error).message} (is this the master key that sealed them?)`);
    }
  };
  const redacted = (config: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(config).map(([k, val]) => [k, SECRET_SETTINGS.has(k) && val !== undefined ? REDACTED_SETTING : val]));
  const view = (row: AuthProviderRow): ProviderView =>
    ({ name: row.name, type: row.type, builtin: false, config: redacted(open(row)), createdAt: row.createdAt });

  async function row(name: string): Promise<AuthProviderRow> {
    const r = await catalog.authProviders.byName(name);
    if (!r) throw new NotFound("auth provider", name, "name");
    return r;
  }

  function refuseNone(type: string) {
    if (type === "none" && opts.loopbackOnly !== true) {
      throw new Conflict("the none provider makes everyone admin: the daemon must listen on loopback only (SHIELD_HOST 127.0.0.1 or ::1) to allow it");
    }
  }

  return {
    async list(): Promise<ProviderView[]> {
      const local: ProviderView = { name: LOCAL, type: "local", builtin: true, config: {}, createdAt: null };
      return [local, ...(await catalog.authProviders.list()).map(view)];
    },
    async get(name: string): Promise<ProviderView> {
      if (name === LOCAL) return (await this.list())[0]!;
      return view(await row(name));
    },
    async create(v: { name: string; type: ProviderType; config: unknown }): Promise<void> {
      if (!PROVIDER_TYPES.includes(v.type)) throw new InvalidInput(`type: must be one of ${PROVIDER_TYPES.join(", ")}`, { type: `must be one of ${PROVIDER_TYPES.join(", ")}` });
      const named = vb.safeParse(ProviderName, v.name);
      if (!named.success) throw new InvalidInput(`name: ${named.issues[0].message}`, { name: named.issues[0].message });
      const config = checkConfig(v.type, v.config);
      refuseNone(v.type);
      if (v.type === "none" && (await catalog.authProviders.list()).some((p) => p.type === "none")) throw new Conflict("a none provider is configured already");
      try {
        await catalog.authProviders.create({ uuid: crypto.randomUUID(), name: v.name, type: v.type, config: seal(config), createdAt: nowSeconds() });
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`an auth provider named "${v.name}" exists already`);
        throw err;
      }
    },
    /** Replaces the config; a secret setting left out keeps its stored value. */
    async update(name: string, config: unknown): Promise<void> {
      if (name === LOCAL) throw new Conflict(`"${LOCAL}" is built in: it has no settings`);
      const r = await row(name);
      const given = config && typeof config === "object" && !Array.isArray(config) ? { ...(config as Record<string, unknown>) } : config;
      if (given && typeof given === "object") {
        const stored = open(r);
        for (const k of SECRET_SETTINGS) {
          const g = given as Record<string, unknown>;
          // Sent back as shown (redacted) or left out: keep the stored secret.
          if ((g[k] === undefined || g[k] === REDACTED_SETTING) && stored[k] !== undefined) g[k] = stored[k];
        }
      }
      await catalog.authProviders.update(r.uuid, seal(checkConfig(r.type, given)));
    },
    async delete(name: string): Promise<void> {
      if (name === LOCAL) throw new Conflict(`"${LOCAL}" is built in and always available: it cannot be removed`);
      await catalog.authProviders.delete((await row(name)).uuid);
    },

    /** The password providers to try, in the order they were added. */
    async passwordProviders(): Promise<PasswordProvider[]> {
      const rows = await catalog.authProviders.list();
      return rows.filter((r) => r.type === "ldap").map((r) => ldapProvider(r.name, open(r) as unknown as LdapConfig));
    },
    /** One provider by name, for a user it vouched for; undefined when it is gone. */
    async byName(name: string): Promise<PasswordProvider | OidcProvider | undefined> {
      const r = await catalog.authProviders.byName(name);
      if (r?.type === "ldap") return ldapProvider(r.name, open(r) as unknown as LdapConfig);
      if (r?.type === "oidc") return oidcProvider(r.name, open(r) as unknown as OidcConfig);
      return undefined;
    },
    /** The single sign-on providers, for the sign-in page's buttons and `shield login --sso`. */
    async ssoProviders(): Promise<{ name: string; type: string; label: string }[]> {
      return (await catalog.authProviders.list()).filter((r) => r.type === "oidc")
        .map((r) => ({ name: r.name, type: r.type, label: (open(r) as unknown as OidcConfig).display_name ?? r.name }));
    },
    /** A single sign-on provider by name; NotFound (naming the kind) otherwise. */
    async sso(name: string): Promise<OidcProvider> {
      const r = await catalog.authProviders.byName(name);
      if (!r || r.type !== "oidc") throw new NotFound("single sign-on provider", name, "name");
      return oidcProvider(r.name, open(r) as unknown as OidcConfig);
    },
    sealBlob, openBlob,
    /** A user's re-check data, as kept in users.provider_data (sealed). */
    sealUserData: (data: OidcUserData): string => blobSecrets().seal(JSON.stringify({ oidc: data }), new Set(["oidc"])),
    openUserData(text: string | null): OidcUserData | undefined {
      if (!text) return undefined;
      try {
        const v = (JSON.parse(blobSecrets().open(text).endpoint) as { oidc?: OidcUserData }).oidc;
        return v && typeof v === "object" ? v : undefined;
      } catch {
        // Sealed under another master key (rekeyed since): as if none, so the user signs in again.
        return undefined;
      }
    },
    /** At start: every provider's sealed settings open with this master key (throws, naming the provider, if not). */
    async checkReadable(): Promise<void> {
      for (const r of await catalog.authProviders.list()) open(r);
    },
    /** Whether the `none` provider is on (requests without credentials are the lab admin's). */
    async noneEnabled(): Promise<boolean> {
      return (await catalog.authProviders.list()).some((r) => r.type === "none");
    },
    /** At first start: providers from a file, each added unless one by its name exists. Returns the names added. */
    async seed(list: unknown): Promise<string[]> {
      if (!Array.isArray(list)) throw new InvalidInput("auth providers file: must hold a list of providers ({name, type, config})");
      const added: string[] = [];
      for (const [i, p] of list.entries()) {
        if (!p || typeof p !== "object") throw new InvalidInput(`auth providers file: entry ${i + 1} must be an object {name, type, config}`);
        const { name, type, config } = p as Record<string, unknown>;
        if (typeof name !== "string" || typeof type !== "string") throw new InvalidInput(`auth providers file: entry ${i + 1} needs a name and a type`);
        if (await catalog.authProviders.byName(name)) continue;
        try {
          await this.create({ name, type: type as ProviderType, config: config ?? {} });
        } catch (err) {
          if (err instanceof InvalidInput || err instanceof Conflict) throw new InvalidInput(`auth providers file: provider "${name}": ${err.message}`);
          throw err;
        }
        added.push(name);
      }
      return added;
    },
  };
}

export type ProviderRules = ReturnType<typeof providerRules>;
