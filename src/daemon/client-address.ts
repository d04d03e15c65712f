// Which address a request comes from, for the sign-in throttle and the audit
// trail. The peer of the TCP connection, unless that peer is a proxy the
// operator named with --trusted-proxy: then the address that proxy says it
// serves, from X-Forwarded-For. The header is read from the right (each proxy
// appends the address it received from), skipping trusted proxies, so a client
// cannot choose its address by sending a header of its own; without a trusted
// proxy the header is ignored entirely.
import { isIP } from "node:net";

/** "::ffff:10.0.0.1" (IPv4 on an IPv6 socket) is 10.0.0.1: one address, one spelling. */
export function normalizeAddress(a: string): string {
  const s = a.trim().toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  return m ? m[1]! : s;
}

/** Parses --trusted-proxy values: IP addresses only (each a proxy's own address). Throws naming a bad one. */
export function parseTrustedProxies(values: string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values.flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean)) {
    if (!isIP(v)) throw new Error(`--trusted-proxy (SHIELD_TRUSTED_PROXY) must be IP addresses, comma-separated (got "${v}")`);
    out.add(normalizeAddress(v));
  }
  return out;
}

export function clientAddressOf(peer: string | undefined, forwardedFor: string | null | undefined, trusted: ReadonlySet<string>): string | undefined {
  if (!peer) return undefined;
  const direct = normalizeAddress(peer);
  if (!trusted.has(direct) || !forwardedFor) return direct;
  const hops = forwardedFor.split(",").map((h) => normalizeAddress(h)).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A hop that is not an address (a proxy that writes "unknown") ends what can be believed.
    if (!isIP(hop)) return direct;
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? direct;
}
