// Row types of the catalog, the same for both dialects.
import { DrizzleQueryError } from "drizzle-orm";
import type { Tables } from "./open.ts";

export type TargetRow = Tables["targets"]["$inferSelect"];
export type StoreRow = Tables["stores"]["$inferSelect"];
export type ScheduleRow = Tables["schedules"]["$inferSelect"];
export type RetentionRow = Tables["retention"]["$inferSelect"];
export type JobRow = Tables["jobs"]["$inferSelect"];
export type ArchiveRow = Tables["archives"]["$inferSelect"];
export type TaskRow = Tables["tasks"]["$inferSelect"];
export type UserRow = Tables["users"]["$inferSelect"];
export type TokenRow = Tables["tokens"]["$inferSelect"];
export type AuthProviderRow = Tables["authProviders"]["$inferSelect"];

export type TaskStatus = TaskRow["status"];
export type ArchiveStatus = ArchiveRow["status"];
export type Role = UserRow["role"];

/** `unused`: true lists only rows no job refers to, false only rows some job refers to. */
export interface UsageFilter { unused?: boolean; plugin?: string }

export interface Page { limit: number; offset: number }

/** A page of a list that is whole unless asked otherwise: either bound may be left out. */
export type OptionalPage = Partial<Page>;

/** LIMIT for "no limit" when only an offset is given: both dialects take it (SQLite cannot OFFSET without LIMIT). */
export const NO_LIMIT = 2 ** 31 - 1;

/** A uniqueness constraint failed (a name taken), in either dialect's words. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: any = err; e; e = e.cause) {
    if (e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE") return true;
    // Drizzle's wrapper quotes the query's parameters in its message: a value that
    // reads "UNIQUE constraint failed" must not pass another refusal off as this one.
    if (!(e instanceof DrizzleQueryError) && /UNIQUE constraint failed/.test(String(e.message))) return true;
  }
  return false;
}
