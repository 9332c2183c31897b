// Which peers are trusted proxies (TRUSTED_PROXIES): IPv4/IPv6 addresses and CIDR
// ranges, IPv4-mapped IPv6 read as IPv4. Only a trusted peer may say who the client
// is (X-Forwarded-For, -Proto) or describe a forward-auth request.
type Cidr = { v6: boolean; bits: bigint; mask: bigint };

function ipToBigInt(ip: string): { v6: boolean; n: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, n: parts.reduce((a, p) => (a << 8n) | BigInt(p), 0n) };
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return ipToBigInt(mapped[1]);
  if (!ip.includes(":")) return undefined;
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  if (ip.split("::").length > 2) return undefined;
  const fill = ip.includes("::") ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array(fill).fill("0"), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { v6: true, n: groups.reduce((a, g) => (a << 16n) | BigInt(Number.parseInt(g, 16)), 0n) };
}

export function parseCidr(c: string): Cidr | undefined {
  const [ip, len] = c.split("/");
  const parsed = ipToBigInt(ip ?? "");
  if (!parsed) return undefined;
  const width = parsed.v6 ? 128 : 32;
  const l = len === undefined ? width : Number(len);
  if (!Number.isInteger(l) || l < 0 || l > width) return undefined;
  const mask = l === 0 ? 0n : ((1n << BigInt(l)) - 1n) << BigInt(width - l);
  return { v6: parsed.v6, bits: parsed.n & mask, mask };
}

export function trustChecker(cidrs: readonly string[]): (ip: string | undefined) => boolean {
  const parsed = cidrs.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  return (ip) => {
    if (!ip) return false;
    const p = ipToBigInt(ip);
    if (!p) return false;
    return parsed.some((c) => c.v6 === p.v6 && (p.n & c.mask) === c.bits);
  };
}
