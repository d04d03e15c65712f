// Small formatting rules shared by the views: sizes, durations, API times.

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The units a retention period is written in, largest first. */
/** 0.75 → "75%"; "—" when there is nothing to rate. */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`;
}

export const DURATION_UNITS = [
  { unit: "years", seconds: 365 * 86400 },
  { unit: "weeks", seconds: 7 * 86400 },
  { unit: "days", seconds: 86400 },
  { unit: "hours", seconds: 3600 },
] as const;
export type DurationUnit = (typeof DURATION_UNITS)[number]["unit"];

/** The largest unit that divides the seconds exactly: 604800 → 1 weeks; 90000 → 25 hours. */
export function splitDuration(seconds: number): { amount: number; unit: DurationUnit } {
  for (const u of DURATION_UNITS) if (seconds % u.seconds === 0) return { amount: seconds / u.seconds, unit: u.unit };
  return { amount: seconds / 3600, unit: "hours" };
}

export function duration(seconds: number): string {
  const { amount, unit } = splitDuration(seconds);
  const one = unit.slice(0, -1);
  return `${Number.isInteger(amount) ? amount : amount.toFixed(2)} ${amount === 1 ? one : unit}`;
}

/** "2015-10-25 11:32:00" (UTC, the API's form) → "2015-10-25T11:32:00Z". */
export function isoUtc(apiTime: string): string {
  return apiTime.replace(" ", "T") + "Z";
}

export function elapsed(fromApi: string | null, toApi: string | null, now = Date.now()): string {
  if (!fromApi) return "—";
  const end = toApi ? Date.parse(isoUtc(toApi)) : now;
  const s = Math.max(0, Math.round((end - Date.parse(isoUtc(fromApi))) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The latest progress line a running task has logged ("progress: backed up 12 MiB in 5 s ..."). */
export function lastProgress(log: string): string | undefined {
  const lines = log.split("\n").filter((l) => /progress: /.test(l));
  const last = lines[lines.length - 1];
  return last?.slice(last.indexOf("progress: ") + "progress: ".length);
}

/** A running task's progress, as the task JSON has it (the fields the bar shows). */
export interface ProgressView {
  phase: string; bytes: number; total: number | null; estimate: boolean; rate: number; eta: number | null; percent: number | null;
}

/** "1 min 5 s", "12 s", "2 h 3 min": an ETA. */
export function seconds(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * The words of a progress bar, shared by the web page and `--follow`:
 * "restoring 12.0 MiB of 40 MiB (30 %) · 4.0 MiB/s · 7 s left";
 * a guessed total says so ("of ~40 MiB", "about 7 s left").
 */
export function progressText(p: ProgressView): string {
  const parts = [`${p.phase} ${bytes(p.bytes)}${p.total !== null ? ` of ${p.estimate ? "~" : ""}${bytes(p.total)}` : ""}${p.percent !== null ? ` (${p.percent} %)` : ""}`];
  if (p.rate > 0) parts.push(`${bytes(p.rate)}/s`);
  if (p.eta !== null) parts.push(`${p.estimate ? "about " : ""}${seconds(p.eta)} left`);
  return parts.join(" · ");
}
