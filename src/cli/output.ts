// What the CLI prints: readable tables and detail lists on stdout by default, the
// API's own JSON with --json. Secret endpoint values are masked in the readable
// forms; --json passes the API's answer through unchanged, for scripts.
import { looksSecret } from "../secret-names.ts";

export interface Column<T> {
  title: string;
  value: (row: T) => unknown;
}

export class Output {
  constructor(readonly json: boolean, private readonly stdout: (s: string) => void = (s) => process.stdout.write(s)) {}

  write(text: string): void { this.stdout(text); }
  line(text = ""): void { this.stdout(text + "\n"); }

  /** The API's JSON, pretty-printed: this is what scripts parse. */
  data(value: unknown): void { this.stdout(JSON.stringify(value, null, 2) + "\n"); }

  table<T>(rows: T[], columns: Column<T>[], empty = "(none)"): void {
    if (!rows.length) { this.line(empty); return; }
    const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
    const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => width(row[i]!))));
    const fmt = (row: string[]) => row.map((s, i) => (i === row.length - 1 ? s : pad(s, widths[i]!))).join("  ").trimEnd();
    this.line(fmt(columns.map((c) => c.title)));
    this.line(fmt(widths.map((w) => "-".repeat(w))));
    for (const row of cells) this.line(fmt(row));
  }

  /** Rows: the API's JSON with --json, else a table. */
  list<T>(rows: T[], columns: Column<T>[], empty?: string): void {
    if (this.json) this.data(rows);
    else this.table(rows, columns, empty);
  }

  /** One object: the API's JSON with --json, else its readable details. */
  show<T>(obj: T, details: (o: T) => [string, unknown][]): void {
    if (this.json) this.data(obj);
    else this.details(details(obj));
  }

  /** "Key:  value" lines, for one object. */
  details(pairs: [string, unknown][]): void {
    const w = Math.max(...pairs.map(([k]) => k.length)) + 1;
    for (const [k, v] of pairs) {
      const text = cell(v);
      const [first, ...more] = text.split("\n");
      this.line(`${pad(k + ":", w)}  ${first}`);
      for (const m of more) this.line(`${" ".repeat(w)}  ${m}`);
    }
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}
const width = (s: string) => [...s].length;
const pad = (s: string, w: number) => s + " ".repeat(Math.max(0, w - width(s)));

export const short = (uuid: string | null | undefined) => (uuid ? uuid.slice(0, 8) : "-");

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** 604800 → "7d", 5400 → "1h30m": how retention is read by people. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let s = seconds;
  for (const [unit, n] of [["y", 365 * 86400], ["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= n) { parts.push(`${Math.floor(s / n)}${unit}`); s %= n; }
  }
  return parts.join("") || "0s";
}


export function isSecretField(name: string, type?: string): boolean {
  return type === "password" || looksSecret(name);
}

/** An endpoint JSON string shown with its secret values replaced by "***". */
export function maskEndpoint(endpoint: string | null | undefined): string {
  if (!endpoint) return "-";
  try {
    const mask = (value: unknown, key: string): unknown => {
      if (Array.isArray(value)) return value.map((v) => mask(v, key));
      if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
      if (isSecretField(key) && value !== "" && value !== null && value !== undefined) return "***";
      return value;
    };
    return JSON.stringify(mask(JSON.parse(endpoint), ""));
  } catch {
    return "(not JSON)";
  }
}
