// A confirmation step before anything that cannot be undone: it says what will
// happen, and the button names the action. Works without JavaScript.
import type { Child } from "hono/jsx";
import type { Me } from "./types.ts";
import { Csrf } from "./components.tsx";

export function Confirm({ me, title, action, button, cancel, cancelLabel = "Cancel", fields = {}, children }: {
  me: Me; title: string; action: string; button: string; cancel: string; cancelLabel?: string; fields?: Record<string, string>; children: Child;
}) {
  return (
    <>
      <h1>{title}</h1>
      <div class="card">{children}</div>
      <form method="post" action={action} class="actions">
        <Csrf csrf={me.csrf} />
        {Object.entries(fields).map(([k, v]) => <input type="hidden" name={k} value={v} />)}
        <button type="submit" class="danger">{button}</button>
        <a href={cancel}>{cancelLabel}</a>
      </form>
    </>
  );
}
