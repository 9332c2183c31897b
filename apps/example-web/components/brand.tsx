export function Brand({ href }: { href: string }) {
  return (
    <a className="brand" href={href}>
      <span className="brand-mark" aria-hidden="true">
        G
      </span>
      Gatehouse
    </a>
  );
}
