// Archives: find them (by target, store and date), annotate, restore, delete.
import type { Archive, EndpointView, Errors, Me } from "./types.ts";
import { Csrf, DataTable, Empty, Field, FilterForm, FormError, Pager, SearchField, SelectField, Status, TextField, Time, described } from "./components.tsx";
import { ArchiveTable } from "./tables.tsx";
import { EndpointLines } from "./endpoints.tsx";
import { bytes } from "./format.ts";
import type { Choice } from "./jobs.tsx";

/** A file or data stream of an external producer's archive (GET /v1/archive/:uuid/objects). */
export interface ArchiveObject { name: string; store_key: string; size: number; stored_at: number }

/** The target plugin of gpbackup's archives: Greenplum's gprestore restores them, through Shield's gpbackup plugin. */
const GPBACKUP = "gpbackup";

export interface ArchiveFilter { target: string; store: string; from: string; to: string; status: string; q: string; job: string; sort: string }

export function ArchiveList({ me, archives, filter, targets, stores, errors, page, hasNext, pageHref }: {
  me: Me; archives: Archive[]; filter: ArchiveFilter; targets: Choice[]; stores: Choice[]; errors: Errors;
  page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  const filtered = Object.values(filter).some(Boolean);
  return (
    <>
      <h1>Archives</h1>
      <FilterForm action="/archives" label="Filter archives">
        <SelectField name="target" label="Target" value={filter.target} options={targets} errors={errors} blank="Any" />
        <SelectField name="store" label="Store" value={filter.store} options={stores} errors={errors} blank="Any" />
        <TextField name="from" label="Taken from (UTC)" type="date" value={filter.from} errors={errors} />
        <TextField name="to" label="Taken to (UTC, inclusive)" type="date" value={filter.to} errors={errors} />
        <SelectField name="status" label="Status" value={filter.status} errors={errors} blank="Any"
          options={["valid", "expired", "purged", "purge_failed"].map((s) => ({ value: s, label: s }))} />
        <SearchField action="/archives" value={filter.q} errors={errors} placeholder="notes, target or job name" />
        <SelectField name="sort" label="Order" value={filter.sort} errors={errors} blank="Newest first"
          options={[{ value: "size", label: "Largest first" }]} />
        {filter.job ? <input type="hidden" name="job" value={filter.job} /> : null}
      </FilterForm>
      <FormError errors={errors} />
      {archives.length === 0 ? (
        <Empty>{filtered ? "No archive matches these filters." : "No archives yet. They appear here as jobs run."}</Empty>
      ) : <ArchiveTable archives={archives} restore={me.canOperate} />}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

export function ArchiveDetail({ me, archive, restoreTargets, objects = [], errors }: { me: Me; archive: Archive; restoreTargets: Choice[]; objects?: ArchiveObject[]; errors: Errors }) {
  const a = archive;
  const base = `/archives/${a.uuid}`;
  const gpbackup = a.target_plugin === GPBACKUP;
  const restorable = a.status === "valid";
  const nid = "f-notes";
  return (
    <>
      <h1>Archive of {a.target_name ?? "a deleted target"}, <Time at={a.taken_at} /></h1>
      <FormError errors={errors} />
      <div class="card">
        <dl class="props">
          <dt>Status</dt><dd><Status status={a.status} /></dd>
          <dt>Taken</dt><dd><Time at={a.taken_at} /></dd>
          <dt>Expires</dt><dd><Time at={a.expires_at} /></dd>
          {a.pinned ? <><dt>Pinned</dt><dd>{a.pin_reason} <span class="muted">(never expired)</span></dd></> : null}
          {a.purged_at ? <><dt>Purged</dt><dd><Time at={a.purged_at} /></dd></> : null}
          {/* Why the purger could not remove the data yet, and when it tries again. */}
          {a.purge_error ? <><dt>Purge error</dt><dd class="field-error">{a.purge_error}</dd></> : null}
          {a.purge_attempts > 0 && a.status !== "purged" ? <><dt>Purge attempts</dt><dd>{a.purge_attempts}</dd></> : null}
          {a.purge_next_at && a.status !== "purged" ? <><dt>Next purge attempt</dt><dd><Time at={a.purge_next_at} /></dd></> : null}
          <dt>Target</dt><dd>{a.target_name ? <a href={`/targets/${a.target_uuid}`}>{a.target_name}</a> : <span class="muted">deleted</span>} {a.target_plugin ? `(${a.target_plugin})` : ""}</dd>
          <dt>Store</dt><dd>{a.store_name ? <a href={`/stores/${a.store_uuid}`}>{a.store_name}</a> : <span class="muted">deleted</span>} {a.store_plugin ? `(${a.store_plugin})` : ""}</dd>
          <dt>Job</dt><dd>{a.job_uuid ? <a href={`/jobs/${a.job_uuid}`}>show the job</a> : <span class="muted">none</span>}</dd>
          <dt>Size</dt><dd>{bytes(a.size)} stored{a.raw_size !== null ? `, ${bytes(a.raw_size)} before compression` : ""}</dd>
          <dt>Compression</dt><dd>{a.compression}</dd>
          <dt>Encryption</dt><dd>{a.cipher}</dd>
          <dt>SHA-256</dt><dd><code>{a.sha256 ?? "—"}</code></dd>
          <dt>Store key</dt><dd><code>{a.store_key}</code></dd>
          <dt>Copies</dt><dd>{a.copies?.length ? (
            <ul>{a.copies.map((c) => (
              <li>{c.store_name ? <a href={`/stores/${c.store_uuid}`}>{c.store_name}</a> : <span class="muted">deleted store</span>}: {c.status}
                {c.expires_at ? <> (expires <Time at={c.expires_at} />)</> : null}{c.error ? <span class="field-error"> {c.error}</span> : null}</li>
            ))}</ul>
          ) : <span class="muted">none</span>}</dd>
          <dt>UUID</dt><dd><code>{a.uuid}</code></dd>
        </dl>
      </div>

      <h2>Notes</h2>
      {me.canOperate ? (
        <form class="stack" method="post" action={`${base}/notes`}>
          <Csrf csrf={me.csrf} />
          <Field id={nid} label="Notes" help="Why this archive matters, e.g. “before change #422”." error={errors.notes}>
            <textarea name="notes" {...described(nid, "x", errors.notes)}>{a.notes}</textarea>
          </Field>
          <div class="actions"><button type="submit" class="secondary">Save notes</button></div>
        </form>
      ) : <div class="card">{a.notes || <span class="muted">none</span>}</div>}

      {gpbackup ? (
        <>
          <h2>Files of this gpbackup backup</h2>
          <p class="help">Written by gpbackup through Shield's gpbackup plugin. <strong>gprestore restores this backup</strong> (with the same plugin
            config, <code>--timestamp {a.store_key.replace(/^gpbackup\//, "")}</code>), not Shield; here it can be annotated and deleted.</p>
          {objects.length === 0 ? <Empty>No files recorded.</Empty> : (
            <DataTable columns={["File", "Size", "Store key"]}>
              {objects.map((o) => <tr><td><code>{o.name.split("/").pop()}</code></td><td>{bytes(o.size)}</td><td><code>{o.store_key}</code></td></tr>)}
            </DataTable>
          )}
        </>
      ) : null}

      {me.canOperate && restorable && !gpbackup ? (
        <>
          <h2>Restore</h2>
          {restoreTargets.length === 0 ? <Empty>No target can take this archive (none uses the {a.target_plugin} plugin).</Empty> : (
            <form class="stack" method="get" action={`${base}/restore`}>
              <SelectField name="target" label="Restore into" value={a.target_uuid} options={restoreTargets} errors={errors}
                help="The original target, or another one with the same plugin. You will be asked to confirm what gets overwritten." />
              <div class="actions"><button type="submit">Restore…</button></div>
            </form>
          )}
        </>
      ) : null}

      {me.canOperate && (restorable || a.pinned) ? (
        <>
          <h2>Pin</h2>
          {a.pinned ? (
            <form class="stack" method="post" action={`${base}/pin`}>
              <Csrf csrf={me.csrf} />
              <input type="hidden" name="pinned" value="f" />
              <p>Pinned: {a.pin_reason}. Neither its expiry nor its policy's rules expire it, and it cannot be deleted.</p>
              <div class="actions"><button type="submit" class="secondary">Unpin</button></div>
            </form>
          ) : (
            <form class="stack" method="post" action={`${base}/pin`}>
              <Csrf csrf={me.csrf} />
              <input type="hidden" name="pinned" value="t" />
              <TextField name="pin_reason" label="Reason to pin" value="" errors={errors} required
                help="A pinned archive is never expired, by its expiry or by its policy's rules, until it is unpinned." />
              <div class="actions"><button type="submit" class="secondary">Pin</button></div>
            </form>
          )}
        </>
      ) : null}

      {me.canOperate && restorable && !a.pinned ? (
        <>
          <h2>Delete</h2>
          <p><a class="button danger" href={`${base}/delete`}>Delete this archive…</a></p>
        </>
      ) : null}
    </>
  );
}

/** The confirmation of a restore: what will be overwritten, by what. */
/** Restore from the archive list: first which target (the original preselected), then the confirmation. */
export function RestoreChoose({ archive, restoreTargets }: { archive: Archive; restoreTargets: Choice[] }) {
  const a = archive;
  return (
    <>
      <h1>Restore the archive of {a.target_name ?? "a deleted target"}, taken <Time at={a.taken_at} /></h1>
      {restoreTargets.length === 0 ? <Empty>No target can take this archive (none uses the {a.target_plugin} plugin).</Empty> : (
        <form class="stack card" method="get" action={`/archives/${a.uuid}/restore`}>
          <SelectField name="target" label="Restore into" value={a.target_uuid} options={restoreTargets} errors={{}}
            help="The original target, or another one with the same plugin. The next page says what gets overwritten, before anything is." />
          <div class="actions"><button type="submit">Next…</button><a href="/archives">Cancel</a></div>
        </form>
      )}
    </>
  );
}

export function RestoreConfirm({ me, archive, target, endpoint }: { me: Me; archive: Archive; target: { uuid: string; name: string; plugin: string }; endpoint: EndpointView }) {
  const original = target.uuid === archive.target_uuid;
  return (
    <>
      <h1>Restore into {target.name}?</h1>
      <div class="card">
        <p><strong>This overwrites the data of target “{target.name}”</strong> ({target.plugin}
          {original ? ", the target this archive was taken from" : ", not the target this archive was taken from"}) with the archive
          taken <Time at={archive.taken_at} /> from {archive.target_name ?? "a deleted target"}. What the target holds now and the archive does not may be lost.</p>
        <h2>What will be overwritten</h2>
        <EndpointLines view={endpoint} />
      </div>
      <form method="post" action={`/archives/${archive.uuid}/restore`} class="actions">
        <Csrf csrf={me.csrf} />
        <input type="hidden" name="target" value={target.uuid} />
        <button type="submit" class="danger">Restore and overwrite {target.name}</button>
        <a href={`/archives/${archive.uuid}`}>Cancel</a>
      </form>
    </>
  );
}
