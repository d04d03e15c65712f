// Every list is paged, whether the API pages it (archives, tasks: limit/offset)
// or returns it whole (definitions, jobs: paged here).
import type { Context } from "hono";

export const PAGE_SIZE = 25;

/** ?page=N, from 1; anything else is page 1. */
export function pageOf(c: Context): number {
  const n = Number(c.req.query("page"));
  return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
}

/** limit/offset for an API list: one row more than a page tells whether there is a next page. */
export function apiWindow(page: number): { limit: number; offset: number } {
  return { limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE };
}

export function trimPage<T>(rows: T[]): { rows: T[]; hasNext: boolean } {
  return { rows: rows.slice(0, PAGE_SIZE), hasNext: rows.length > PAGE_SIZE };
}

export function slicePage<T>(rows: T[], page: number): { rows: T[]; hasNext: boolean } {
  const start = (page - 1) * PAGE_SIZE;
  return { rows: rows.slice(start, start + PAGE_SIZE), hasNext: rows.length > start + PAGE_SIZE };
}

/** The current URL's query with `page` replaced: pagination keeps the filters. */
export function pageHref(c: Context): (page: number) => string {
  const url = new URL(c.req.url);
  return (page: number) => {
    const q = new URLSearchParams(url.search);
    if (page <= 1) q.delete("page");
    else q.set("page", String(page));
    const s = q.toString();
    return `${url.pathname}${s ? `?${s}` : ""}`;
  };
}
