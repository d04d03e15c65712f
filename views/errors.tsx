// Pages for what went wrong: the API's own words, and a way back.
import type { AssetPaths } from "./layout.tsx";
import { Document } from "./layout.tsx";

export function Problem({ status, message }: { status: number; message: string }) {
  const heading = status === 404 ? "Not found" : status === 403 ? "Not allowed" : status === 409 ? "Refused" : status >= 500 ? "Something went wrong" : "Cannot do that";
  return (
    <>
      <h1>{heading}</h1>
      <div class="flash error" role="alert">{message}</div>
      <p><a href="/">Back to the dashboard</a></p>
    </>
  );
}

/** For requests without a session (the CSRF refusal of a sign-in form, a bare 404). */
export function BarePage({ assets, status, message }: { assets: AssetPaths; status: number; message: string }) {
  return (
    <Document title="Shield" assets={assets}>
      <main id="main" class="signin"><Problem status={status} message={message} /></main>
    </Document>
  );
}
