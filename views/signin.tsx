// The sign-in page: the only page without a session.
import type { AssetPaths } from "./layout.tsx";
import { Document } from "./layout.tsx";

/** A single sign-on provider on the sign-in page. */
export interface SsoButton { name: string; label: string }

export function SignIn({ assets, csrf, name, next, error, sso = [] }: { assets: AssetPaths; csrf: string; name?: string; next?: string; error?: string; sso?: SsoButton[] }) {
  return (
    <Document title="Sign in" assets={assets}>
      <main id="main" class="signin">
        <h1>Sign in to Shield</h1>
        {error ? <div class="flash error" role="alert" id="signin-error">{error}</div> : null}
        <form class="stack card" method="post" action="/signin">
          <input type="hidden" name="_csrf" value={csrf} />
          {next ? <input type="hidden" name="next" value={next} /> : null}
          <div class="field">
            <label for="f-name">User name</label>
            <input id="f-name" type="text" name="name" value={name} required autocomplete="username" autofocus
              aria-describedby={error ? "signin-error" : undefined} />
          </div>
          <div class="field">
            <label for="f-password">Password</label>
            <input id="f-password" type="password" name="password" required autocomplete="current-password" />
          </div>
          <button type="submit">Sign in</button>
        </form>
        {sso.length ? (
          <div class="stack card sso" aria-label="Single sign-on">
            <p class="muted">Or sign in with your organisation's account:</p>
            {sso.map((p) => (
              <a class="button secondary" id={`sso-${p.name}`} href={`/signin/sso/${encodeURIComponent(p.name)}${next && next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}>Sign in with {p.label}</a>
            ))}
          </div>
        ) : null}
      </main>
    </Document>
  );
}

/** After a single sign-on: continues to `next` at once (a same-site navigation, which carries the new session cookie). */
export function SsoLanding({ assets, next }: { assets: AssetPaths; next: string }) {
  return (
    <Document title="Signed in" assets={assets} head={<meta http-equiv="refresh" content={`0;url=${next}`} />}>
      <main id="main" class="signin">
        <h1>Signed in</h1>
        <p><a href={next} id="continue">Continue to Shield</a></p>
      </main>
    </Document>
  );
}
