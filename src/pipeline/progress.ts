// A running pipeline's progress, as the task JSON shows it (`progress`): what it
// is doing (the phase), how many bytes it moved, out of how many when that can be
// known (a restore: the archive's stored size) or guessed (a backup: the job's
// last archive, flagged `estimate`), and the rate and ETA that follow.

/** Phases, in the order a task goes through them. */
export type Phase = "starting" | "dumping" | "storing" | "verifying" | "restoring";

export interface Progress {
  phase: Phase;
  /** Bytes moved in this phase so far (what `total` counts: see `counts`). */
  bytes: number;
  /** What `bytes` will reach at the end of the phase; null when unknown. */
  total: number | null;
  /** `total` is a guess (a backup's last archive), not a known size: it may be passed. */
  estimate: boolean;
  /** Which bytes: "stored" (compressed, encrypted: as the store keeps them) or "raw" (as the target reads or writes them). */
  counts: "stored" | "raw";
  /** Bytes per second over the phase so far. */
  rate: number;
  /** Seconds until `total` at `rate`; null when the total or the rate is unknown, or already passed. */
  eta: number | null;
  /** 0..100, rounded down; null without a total. Capped at 99 while running past an estimate. */
  percent: number | null;
  /** When this phase began and when this was measured (epoch ms). */
  started_at: number;
  updated_at: number;
}

/** What a pipeline knows up front of a phase's total. */
export interface ProgressTotal {
  total: number | null;
  estimate: boolean;
  counts: "stored" | "raw";
}

/** A measurement of a phase: rate, ETA and percentage follow from bytes, total and elapsed time. */
export function measure(phase: Phase, bytes: number, t: ProgressTotal, startedAt: number, now = Date.now()): Progress {
  const secs = (now - startedAt) / 1000;
  const rate = secs > 0 ? Math.round(bytes / secs) : 0;
  const total = t.total && t.total > 0 ? t.total : null;
  const left = total === null ? null : total - bytes;
  const eta = left !== null && left > 0 && rate > 0 ? Math.ceil(left / rate) : left !== null && left <= 0 && !t.estimate ? 0 : null;
  let percent = total === null ? null : Math.floor((bytes / total) * 100);
  // Past a guess the task is not done: it says 99 % until it is.
  if (percent !== null) percent = Math.min(percent, t.estimate || bytes < total! ? 99 : 100);
  return { phase, bytes, total, estimate: t.estimate && total !== null, counts: t.counts, rate, eta, percent, started_at: startedAt, updated_at: now };
}
