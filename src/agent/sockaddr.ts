// The socket address a raw connect(2) takes (libc.ts tcpConnect), for the agent's data
// connection (data-receiver.ts): a numeric IPv4 or IPv6 address and a port, in the layout
// of struct sockaddr_in and sockaddr_in6 on Linux.

// Linux's values, the same on x86-64 and arm64.
const AF_INET = 2;
const AF_INET6 = 10;

/** struct sockaddr_in or sockaddr_in6 for a numeric address (network byte order where it must be); null if it is not one. */
export function sockaddr(address: string, port: number): { family: number; bytes: Uint8Array } | null {
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? address.split(".").map(Number) : null;
  const v6 = v4 ? null : ipv6Bytes(address);
  const ip = v4 ?? v6;
  if (!ip || ip.length !== (v4 ? 4 : 16) || ip.some((b) => !(b >= 0 && b <= 255))) return null;
  const bytes = new Uint8Array(v4 ? 16 : 28);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, v4 ? AF_INET : AF_INET6, true);
  view.setUint16(2, port, false);
  bytes.set(ip, v4 ? 4 : 8);
  return { family: v4 ? AF_INET : AF_INET6, bytes };
}

/** The 16 bytes of a numeric IPv6 address ("::1", "fe80::1", "::ffff:10.0.0.1"); null if it is not one. */
function ipv6Bytes(address: string): number[] | null {
  if (!address.includes(":") || !/^[0-9a-fA-F:.%\w]+$/.test(address)) return null;
  let text = address.replace(/%.*$/, "");
  // A trailing IPv4 part becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const [head, tail] = halves as [string, string | undefined];
  const groups = (s: string) => (s ? s.split(":").map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill(0), ...t];
  if (all.length !== 8 || all.some(Number.isNaN)) return null;
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}
