// Cursor pages (the auth-service's `before` = the previous page's `next_cursor`) as plain
// links, so paging works without JavaScript and keeps the page's filters.

/** A cursor from the query string, or "" (start at the newest): ids are positive integers. */
export function cursorOf(v: string | string[] | undefined): string {
  return typeof v === "string" && /^[1-9][0-9]{0,18}$/.test(v) ? v : "";
}

/** The "Newest" and "Load older" targets of a page at `before` whose answer said `next`. */
export function pageLinks(
  path: string,
  filters: Readonly<Record<string, string>>,
  before: string,
  next: string | null | undefined,
): { newest?: string; older?: string } {
  const href = (cursor?: string) => {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ""));
    if (cursor) q.set("before", cursor);
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  };
  return { ...(before ? { newest: href() } : {}), ...(next ? { older: href(next) } : {}) };
}
