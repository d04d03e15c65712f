// Access (admins): the auth providers sign-in asks, and every user's sessions and
// API tokens, each revocable. A provider's settings are edited as JSON (the API's
// `config`); its bind password has a field of its own that is never filled in.
import type { Errors, Me } from "./types.ts";
import { Csrf, DataTable, Empty, FormError, PostButton, TextArea, TextField, Time } from "./components.tsx";

export interface Provider { name: string; type: string; builtin: boolean; config: Record<string, unknown>; created_at: string | null }
export interface SessionRow {
  uuid: string; name: string; created_at: string; last_used_at: string | null; role: string | null; expires_at: string | null;
  user: { uuid: string; name: string; provider: string };
}

export function AccessPage({ me, providers, sessions }: { me: Me; providers: Provider[]; sessions: SessionRow[] }) {
  return (
    <>
      <h1>Access</h1>
      <h2>Auth providers</h2>
      <p class="muted">Sign-in asks local users first, then these providers in this order; a user signs in through the provider that first knew them. The local provider is always there, so a broken directory never locks an admin out.</p>
      <div class="actions"><a class="button" href="/access/providers/new">Add LDAP provider</a> <a class="button" href="/access/providers/new?type=oidc">Add OIDC provider</a></div>
      <DataTable columns={["Name", "Type", "Server", "Added", <span class="skip">Actions</span>]}>
        {providers.map((p) => (
          <tr id={`provider-${p.name}`}>
            <td>{p.name}</td>
            <td>{p.type}</td>
            <td>{p.type === "ldap" ? String(p.config.url) : p.type === "oidc" ? String(p.config.issuer) : p.builtin ? "built in" : p.type === "none" ? "everyone is admin (loopback only)" : ""}</td>
            <td>{p.created_at ? <Time at={p.created_at} /> : null}</td>
            <td>{p.builtin ? null : <><a href={`/access/providers/${encodeURIComponent(p.name)}/edit`}>Edit</a> · <a href={`/access/providers/${encodeURIComponent(p.name)}/delete`}>Remove</a></>}</td>
          </tr>
        ))}
      </DataTable>
      <h2>Sessions</h2>
      <p class="muted">Web sessions and API tokens of every user. Revoking one signs it out at its next request.</p>
      {sessions.length === 0 ? <Empty>No sessions.</Empty> : (
        <DataTable columns={["User", "Provider", "Name", "Limited to", "Created", "Last used", "Expires", <span class="skip">Actions</span>]}>
          {sessions.map((s) => (
            <tr id={`session-${s.uuid}`}>
              <td>{s.user.name}</td>
              <td>{s.user.provider}</td>
              <td>{s.name}</td>
              <td>{s.role ?? <span class="muted">—</span>}</td>
              <td><Time at={s.created_at} /></td>
              <td>{s.last_used_at ? <Time at={s.last_used_at} /> : <span class="muted">never</span>}</td>
              <td>{s.expires_at ? <Time at={s.expires_at} /> : <span class="muted">never</span>}</td>
              <td><PostButton action={`/access/sessions/${s.uuid}/revoke`} csrf={me.csrf} label="Revoke" kind="danger" /></td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

export const LDAP_EXAMPLE = JSON.stringify({
  url: "ldaps://ldap.example.com", ca_file: "/etc/ssl/certs/example-ca.pem",
  bind_dn: "cn=shield,ou=services,dc=example,dc=com", base_dn: "ou=people,dc=example,dc=com", user_filter: "(uid={username})",
  group_base_dn: "ou=groups,dc=example,dc=com",
  groups: { admin: ["cn=shield-admins,ou=groups,dc=example,dc=com"], operator: [], viewer: [] }, default_role: null, timeout_ms: 5000,
}, null, 2);

export const OIDC_EXAMPLE = JSON.stringify({
  issuer: "https://login.example.com/realms/corp", client_id: "shield",
  scopes: ["openid", "profile", "email", "offline_access"], username_claim: "preferred_username", role_claim: "groups",
  roles: { admin: ["shield-admins"], operator: ["dba"], viewer: [] }, default_role: null, display_name: "Example SSO",
}, null, 2);

/** The type's words: its settings and its one secret, which has a field of its own. */
const KINDS = {
  ldap: {
    title: "LDAP", secret: "bind_password", secretLabel: "Bind password", secretHelp: "The service account's password; stored sealed, never shown.",
    help: "url, base_dn, bind_dn, user_filter (with {username}), group_base_dn, groups {admin, operator, viewer: group DNs}, default_role (null refuses users in no group), start_tls, ca_file, timeout_ms.",
  },
  oidc: {
    title: "OIDC", secret: "client_secret", secretLabel: "Client secret", secretHelp: "The client's secret at the OpenID provider; stored sealed, never shown. Leave empty for a public client.",
    help: "issuer, client_id, scopes, username_claim, role_claim (a dotted path reaches into objects), roles {admin, operator, viewer: claim values}, default_role (null refuses users whose claim maps to none), display_name (the sign-in button's words), token_endpoint_auth (basic or post), timeout_ms.",
  },
} as const;
export type ProviderKind = keyof typeof KINDS;
export const providerKind = (type: string | undefined): ProviderKind => (type === "oidc" ? "oidc" : "ldap");

export function ProviderForm({ me, row, type, values, errors, callback }: { me: Me; row?: Provider; type: ProviderKind; values: Record<string, string>; errors: Errors; callback?: string }) {
  const k = KINDS[type];
  return (
    <>
      <h1>{row ? `Edit provider ${row.name}` : `Add ${k.title} provider`}</h1>
      {type === "oidc" ? <p class="muted">Register this redirect URI with the OpenID provider: <code id="redirect-uri">{callback}</code> (NAME is this provider's name).</p> : null}
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/access/providers/${encodeURIComponent(row.name)}` : "/access/providers"}>
        <Csrf csrf={me.csrf} />
        {row ? null : <input type="hidden" name="type" value={type} />}
        {row ? null : <TextField name="name" label="Name" value={values.name} errors={errors} required help="Letters, digits, _ and -; shown beside each user it signs in." />}
        <TextArea name="config" label="Settings (JSON)" value={values.config} errors={{ config: errors.config ?? Object.entries(errors).filter(([k]) => k.startsWith("config.")).map(([k, m]) => `${k.slice(7)}: ${m}`).join("; ") }} required
          help={k.help} />
        <TextField name={k.secret} label={k.secretLabel} type="password" errors={errors} autocomplete="new-password"
          help={row ? "Leave empty to keep the stored one (it is never shown)." : k.secretHelp} />
        <div class="actions"><button type="submit">{row ? "Save provider" : "Add provider"}</button><a href="/access">Cancel</a></div>
      </form>
    </>
  );
}
