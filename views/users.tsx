// Users (admins: create, change role, reset password, delete) and each user's own
// API tokens (everyone: create, see once, revoke), over /v1/users and /v1/auth/tokens.
import type { Me, Errors } from "./types.ts";
import { Csrf, DataTable, Empty, FormError, PostButton, SelectField, TextField, Time } from "./components.tsx";

export interface UserRow { uuid: string; name: string; role: Me["role"]; provider: string; created_at: string }
export interface TokenRow { uuid: string; name: string; created_at: string; last_used_at: string | null; role: string | null; expires_at: string | null }
export interface NewToken { name: string; token: string; role: string; expires_at: string | null }

const ROLES = [
  { value: "admin", label: "admin: everything, users too" },
  { value: "operator", label: "operator: run, restore, manage jobs and their parts" },
  { value: "viewer", label: "viewer: read only" },
];

const ROLE_ORDER: Me["role"][] = ["viewer", "operator", "admin"];

export function UsersPage({ me, users, values, errors }: { me: Me; users: UserRow[]; values: Record<string, string>; errors: Errors }) {
  return (
    <>
      <h1>Users</h1>
      <p class="muted">People who sign in with a password kept by Shield (the local provider). Users of a directory (LDAP) appear here after their first sign-in; their role comes from their groups.</p>
      {users.length === 0 ? <Empty>No users.</Empty> : (
        <DataTable columns={["Name", "Role", "Signs in through", "Created", <span class="skip">Actions</span>]}>
          {users.map((u) => (
            <tr id={`user-${u.name}`}>
              <td data-label="Name">{u.name}{u.name === me.name ? <span class="muted"> (you)</span> : null}</td>
              <td data-label="Role">{u.role}</td>
              <td data-label="Signs in through">{u.provider}</td>
              <td data-label="Created"><Time at={u.created_at} /></td>
              <td class="row-actions">
                <a href={`/users/${u.uuid}/edit`}>Edit</a> · <a href={`/users/${u.uuid}/delete`}>Delete</a>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <h2 id="new-user">Add a user</h2>
      <FormError errors={errors} />
      <form class="stack card" method="post" action="/users">
        <Csrf csrf={me.csrf} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required autocomplete="off" help="What they type to sign in." />
        <TextField name="password" label="Password" type="password" errors={errors} required autocomplete="new-password" help="At least 8 characters. Tell it to them another way; they can change it through the API." />
        <SelectField name="role" label="Role" value={values.role ?? "viewer"} options={ROLES} errors={errors} required />
        <div class="actions"><button type="submit">Add user</button></div>
      </form>
    </>
  );
}

export function UserForm({ me, user, values, errors }: { me: Me; user: UserRow; values: Record<string, string>; errors: Errors }) {
  const local = user.provider === "local";
  return (
    <>
      <h1>Edit user {user.name}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={`/users/${user.uuid}`}>
        <Csrf csrf={me.csrf} />
        <SelectField name="role" label="Role" value={values.role ?? user.role} options={ROLES} errors={errors} required
          help={local ? "The last admin cannot be demoted." : `Signs in through ${user.provider}: the next sign-in sets the role from the directory's groups again.`} />
        {local
          ? <TextField name="password" label="New password" type="password" errors={errors} autocomplete="new-password"
              help="Leave empty to keep the current one. Setting one does not end the user's sessions." />
          : null}
        <div class="actions"><button type="submit">Save user</button><a href="/users">Cancel</a></div>
      </form>
    </>
  );
}

/** The expiry choices of a new token, in seconds (empty: never). */
export const TOKEN_EXPIRY = [
  { value: "", label: "Never" },
  { value: String(86400), label: "In a day" },
  { value: String(7 * 86400), label: "In a week" },
  { value: String(30 * 86400), label: "In 30 days" },
  { value: String(90 * 86400), label: "In 90 days" },
  { value: String(365 * 86400), label: "In a year" },
];

export function TokensPage({ me, tokens, sessions, current, askPassword, created, values, errors }: {
  me: Me; tokens: TokenRow[]; sessions: TokenRow[]; current: string; askPassword: boolean; created?: NewToken; values: Record<string, string>; errors: Errors;
}) {
  const roles = ROLE_ORDER.slice(0, ROLE_ORDER.indexOf(me.role) + 1).reverse();
  return (
    <>
      <h1>API tokens</h1>
      <p class="muted">A token lets a script or the CLI act as you (<code>Authorization: Bearer …</code>, or <code>SHIELD_TOKEN</code> for the CLI), without your password. Limit it to a lower role and give it an end when you can. The API is described on the <a href="/docs">API reference</a> page.</p>
      {created ? (
        <div class="card token-created" role="status">
          <h2>Token “{created.name}” created</h2>
          <p>Copy it now: it is shown this once, and Shield keeps only a hash of it.</p>
          <div class="copy-row">
            <input type="text" id="new-token" readonly value={created.token} aria-label="The new token" class="mono" />
            <button type="button" class="secondary" data-copy="new-token">Copy</button>
          </div>
          <p class="muted">Acts as {created.role}{created.expires_at ? <>; ends <Time at={created.expires_at} /></> : "; does not expire"}.</p>
        </div>
      ) : null}
      <h2>Your tokens</h2>
      {tokens.length === 0 ? <Empty>You have no API tokens.</Empty> : (
        <DataTable columns={["Name", "Limited to", "Created", "Last used", "Expires", <span class="skip">Actions</span>]}>
          {tokens.map((t) => (
            <tr id={`token-${t.uuid}`}>
              <td data-label="Name">{t.name}</td>
              <td data-label="Limited to">{t.role ?? <span class="muted">your role</span>}</td>
              <td data-label="Created"><Time at={t.created_at} /></td>
              <td data-label="Last used">{t.last_used_at ? <Time at={t.last_used_at} /> : <span class="muted">never</span>}</td>
              <td data-label="Expires">{t.expires_at ? <Time at={t.expires_at} /> : <span class="muted">never</span>}</td>
              <td class="row-actions"><PostButton action={`/tokens/${t.uuid}/revoke`} csrf={me.csrf} label="Revoke" kind="danger" /></td>
            </tr>
          ))}
        </DataTable>
      )}
      <h2 id="new-token-form">Create a token</h2>
      <FormError errors={errors} />
      <form class="stack card" method="post" action="/tokens">
        <Csrf csrf={me.csrf} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required autocomplete="off" help="What it is for, like ci-pipeline: shown in this list." />
        <SelectField name="role" label="Role" value={values.role ?? ""} blank={`Your role (${me.role})`} errors={errors}
          options={roles.filter((r) => r !== me.role).map((r) => ({ value: r, label: `Only ${r}` }))}
          help="A token can do at most what you can." />
        <SelectField name="expires_in" label="Expires" value={values.expires_in ?? String(90 * 86400)} options={TOKEN_EXPIRY} errors={errors} />
        {askPassword
          ? <TextField name="password" label="Your password" type="password" errors={errors} required autocomplete="current-password"
              help="Asked again: a token outlives this sign-in." />
          : null}
        <div class="actions"><button type="submit">Create token</button></div>
      </form>
      {sessions.length ? (
        <>
          <h2>Your web sessions</h2>
          <DataTable columns={["Signed in", "Last used", "Ends", <span class="skip">Actions</span>]}>
            {sessions.map((t) => (
              <tr id={`token-${t.uuid}`}>
                <td data-label="Signed in"><Time at={t.created_at} />{t.uuid === current ? <span class="muted"> (this browser)</span> : null}</td>
                <td data-label="Last used">{t.last_used_at ? <Time at={t.last_used_at} /> : <span class="muted">never</span>}</td>
                <td data-label="Ends">{t.expires_at ? <Time at={t.expires_at} /> : <span class="muted">never</span>}</td>
                <td class="row-actions"><PostButton action={`/tokens/${t.uuid}/revoke`} csrf={me.csrf} label={t.uuid === current ? "Sign out" : "Sign out there"} kind="danger" /></td>
              </tr>
            ))}
          </DataTable>
        </>
      ) : null}
    </>
  );
}
