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
      <div class="actions"><a class="button" href="/access/providers/new">Add LDAP provider</a></div>
      <DataTable columns={["Name", "Type", "Server", "Added", <span class="skip">Actions</span>]}>
        {providers.map((p) => (
          <tr id={`provider-${p.name}`}>
            <td>{p.name}</td>
            <td>{p.type}</td>
            <td>{p.type === "ldap" ? String(p.config.url) : p.builtin ? "built in" : p.type === "none" ? "everyone is admin (loopback only)" : ""}</td>
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

export function ProviderForm({ me, row, values, errors }: { me: Me; row?: Provider; values: Record<string, string>; errors: Errors }) {
  return (
    <>
      <h1>{row ? `Edit provider ${row.name}` : "Add LDAP provider"}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/access/providers/${encodeURIComponent(row.name)}` : "/access/providers"}>
        <Csrf csrf={me.csrf} />
        {row ? null : <TextField name="name" label="Name" value={values.name} errors={errors} required help="Letters, digits, _ and -; shown beside each user it signs in." />}
        <TextArea name="config" label="Settings (JSON)" value={values.config} errors={{ config: errors.config ?? Object.entries(errors).filter(([k]) => k.startsWith("config.")).map(([k, m]) => `${k.slice(7)}: ${m}`).join("; ") }} required
          help="url, base_dn, bind_dn, user_filter (with {username}), group_base_dn, groups {admin, operator, viewer: group DNs}, default_role (null refuses users in no group), start_tls, ca_file, timeout_ms." />
        <TextField name="bind_password" label="Bind password" type="password" errors={errors} autocomplete="new-password"
          help={row ? "Leave empty to keep the stored one (it is never shown)." : "The service account's password; stored sealed, never shown."} />
        <div class="actions"><button type="submit">{row ? "Save provider" : "Add provider"}</button><a href="/access">Cancel</a></div>
      </form>
    </>
  );
}
