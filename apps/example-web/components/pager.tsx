import { pageLinks } from "../lib/pager.ts";

/** "Newest" / "Load older" links under a cursor-paged list; nothing when there is one page. */
export function Pager(props: {
  label: string;
  path: string;
  filters?: Readonly<Record<string, string>>;
  before: string;
  next: string | null | undefined;
}) {
  const { newest, older } = pageLinks(props.path, props.filters ?? {}, props.before, props.next);
  if (!newest && !older) return null;
  return (
    <nav className="pager" aria-label={props.label}>
      {newest ? (
        <a className="btn btn-secondary btn-small" href={newest} data-testid="newest">
          Newest
        </a>
      ) : null}
      {older ? (
        <a className="btn btn-secondary btn-small" href={older} data-testid="load-older">
          Load older
        </a>
      ) : null}
    </nav>
  );
}
