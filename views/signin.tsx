// The sign-in page: the only page without a session.
import type { AssetPaths } from "./layout.tsx";
import { Document } from "./layout.tsx";

export function SignIn({ assets, csrf, name, next, error }: { assets: AssetPaths; csrf: string; name?: string; next?: string; error?: string }) {
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
      </main>
    </Document>
  );
}
