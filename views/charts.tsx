// Charts: the figures are in the page (a data-chart attribute, read by charts.js,
// which draws them with uPlot; no inline script, so the CSP stays strict), and
// every chart carries its text alternative: a sentence that says what it shows
// and the figures as a table, for screen readers and for pages without script.
import type { Child } from "hono/jsx";
import type { Statistics } from "./types.ts";
import { Time } from "./components.tsx";
import { bytes, percent } from "./format.ts";

/** What charts.js draws: x values (epoch seconds) and one or more series over them. */
export interface ChartSpec {
  /** "shares": bars of percentages stacked to 100 (the first series at the bottom). */
  kind: "line" | "bars" | "shares";
  /** How the y axis reads: bytes, seconds, or a percentage (0 to 100). */
  unit: "bytes" | "seconds" | "percent";
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

/** A run of a job, as GET /v1/job/:uuid/history answers it. */
export interface HistoryRun {
  task_uuid: string; status: string; started_at: string | null; stopped_at: string; duration: number | null;
  archive_uuid: string | null; size: number | null; error: string | null;
}

const epoch = (apiTime: string) => Math.floor(Date.parse(apiTime.replace(" ", "T") + "Z") / 1000);
const dayEpoch = (date: string) => Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000);

/** "1 h 2 min", "3 min 4 s", "5 s": a run's duration. */
export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A chart's frame: title, the sentence, the drawing (hidden from screen readers) and the table. */
function Chart({ id, title, summary, spec, children }: { id: string; title: string; summary: string; spec: ChartSpec; children: Child }) {
  return (
    <figure class="chart" id={id} aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <p class="chart-summary">{summary}</p>
      <div class="chart-plot" aria-hidden="true" data-chart={JSON.stringify(spec)}></div>
      <details class="chart-table">
        <summary>The figures as a table</summary>
        <div class="table-wrap">{children}</div>
      </details>
    </figure>
  );
}

/** Per job: the archive size and duration of its successful runs, oldest first. */
export function JobCharts({ runs }: { runs: HistoryRun[] }) {
  const done = runs.filter((r) => r.status === "done").slice().reverse();
  if (done.length === 0) return <p class="empty">No successful run yet: sizes and durations are drawn once the job has run.</p>;
  const x = done.map((r) => epoch(r.stopped_at));
  const sizes = done.map((r) => r.size);
  const durations = done.map((r) => r.duration);
  const last = done[done.length - 1]!;
  const known = sizes.filter((s): s is number => s !== null);
  const table = (
    <table>
      <thead><tr><th scope="col">Ended</th><th scope="col">Size</th><th scope="col">Duration</th></tr></thead>
      <tbody>{done.slice().reverse().map((r) => <tr><td><Time at={r.stopped_at} /></td><td>{bytes(r.size)}</td><td>{seconds(r.duration)}</td></tr>)}</tbody>
    </table>
  );
  return (
    <div class="chart-row">
      <Chart id="chart-size" title="Archive size" spec={{ kind: "line", unit: "bytes", x, series: [{ label: "Archive size", values: sizes }] }}
        summary={`The last ${done.length} successful runs stored between ${bytes(Math.min(...known))} and ${bytes(Math.max(...known))}; the latest ${bytes(last.size)}.`}>
        {table}
      </Chart>
      <Chart id="chart-duration" title="Duration" spec={{ kind: "line", unit: "seconds", x, series: [{ label: "Duration", values: durations }] }}
        summary={`They took between ${seconds(Math.min(...durations.map((d) => d ?? 0)))} and ${seconds(Math.max(...durations.map((d) => d ?? 0)))}; the latest ${seconds(last.duration)}.`}>
        {table}
      </Chart>
    </div>
  );
}

/** A strip of coloured marks, one per run, oldest on the left; each links to its task. Plain HTML: no script needed. */
export function OutcomeStrip({ runs }: { runs: HistoryRun[] }) {
  if (runs.length === 0) return null;
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const said = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
  return (
    <figure class="outcomes" aria-labelledby="outcomes-title">
      <figcaption id="outcomes-title">Outcomes of the last {runs.length} runs <span class="muted">(oldest first)</span></figcaption>
      <p class="chart-summary">{said}; the latest {runs[0]!.status}.</p>
      <ol class="outcome-strip">
        {runs.slice().reverse().map((r) => (
          <li><a class={`outcome o-${r.status}`} href={`/tasks/${r.task_uuid}`} title={`${r.status}, ended ${r.stopped_at} UTC${r.error ? `: ${r.error}` : ""}`}>
            <span class="visually-hidden">{r.status}, ended {r.stopped_at} UTC{r.error ? `: ${r.error}` : ""}</span>
          </a></li>
        ))}
      </ol>
    </figure>
  );
}

/** Dashboard: bytes held per store at the end of each day of the window. */
export function StorageChart({ stats }: { stats: Statistics }) {
  const stores = stats.stores.filter((s) => s.name !== null && s.used_per_day.length);
  if (stores.length === 0) return null;
  const days = stores[0]!.used_per_day.map((d) => d.date);
  const spec: ChartSpec = {
    kind: "line", unit: "bytes", x: days.map(dayEpoch),
    series: stores.map((s) => ({ label: s.name!, values: s.used_per_day.map((d) => d.bytes) })),
  };
  const change = (s: (typeof stores)[number]) => {
    const first = s.used_per_day[0]!.bytes, last = s.used_per_day[s.used_per_day.length - 1]!.bytes;
    return `${s.name} holds ${bytes(last)} (${last >= first ? "up" : "down"} ${bytes(Math.abs(last - first))} since ${days[0]})`;
  };
  return (
    <Chart id="chart-storage" title={`Storage used, last ${Math.round(stats.window / 86400)} days`} spec={spec} summary={`${stores.map(change).join("; ")}.`}>
      <table>
        <thead><tr><th scope="col">Day (UTC)</th>{stores.map((s) => <th scope="col">{s.name}</th>)}</tr></thead>
        <tbody>{days.map((d, i) => <tr><td>{d}</td>{stores.map((s) => <td>{bytes(s.used_per_day[i]?.bytes)}</td>)}</tr>).reverse()}</tbody>
      </table>
    </Chart>
  );
}

/** Dashboard: the share of backups that succeeded each day, and over the whole window. */
export function SuccessChart({ stats }: { stats: Statistics }) {
  const r = stats.runs;
  const days = r.per_day;
  // Nothing to draw yet: the sentence alone.
  // The window's days, as the API counts them (the chart also shows the day it starts in).
  const window = Math.round(stats.window / 86400);
  if (r.runs === 0) return <p class="empty">No backup ended in the last {window} days.</p>;
  const spec: ChartSpec = {
    kind: "shares", unit: "percent", x: days.map((d) => dayEpoch(d.date)),
    series: [
      { label: "Succeeded", values: days.map((d) => (d.runs ? Math.round(((d.runs - d.failures) / d.runs) * 1000) / 10 : null)) },
      { label: "Failed", values: days.map((d) => (d.runs ? Math.round((d.failures / d.runs) * 1000) / 10 : null)) },
    ],
  };
  const bad = days.filter((d) => d.failures > 0);
  const summary = `${percent(r.success_rate)} of ${r.runs} backups succeeded in the last ${window} days` +
      (bad.length ? `; failures on ${bad.length === 1 ? "1 day" : `${bad.length} days`}, the latest ${bad[bad.length - 1]!.date}.` : ".");
  return (
    <Chart id="chart-success" title={`Backups that succeeded and failed, per day, last ${window} days`} spec={spec} summary={summary}>
      <table>
        <thead><tr><th scope="col">Day (UTC)</th><th scope="col">Backups</th><th scope="col">Failed</th><th scope="col">Succeeded</th></tr></thead>
        <tbody>{days.filter((d) => d.runs).reverse().map((d) => (
          <tr><td>{d.date}</td><td>{d.runs}</td><td>{d.failures}</td><td>{percent((d.runs - d.failures) / d.runs)}</td></tr>
        ))}</tbody>
      </table>
    </Chart>
  );
}
