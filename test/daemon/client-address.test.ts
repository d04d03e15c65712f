// The client address the audit trail and the sign-in throttle see: the peer's,
// unless the peer is a proxy named by --trusted-proxy; then the nearest address
// in X-Forwarded-For that is not a trusted proxy. Never a header from anyone else.
import { expect, test } from "bun:test";
import { clientAddressOf, parseTrustedProxies } from "../../src/daemon/client-address.ts";
import { daemonConfig } from "../../src/daemon/config.ts";

const none = new Set<string>();

test("without a trusted proxy the header is ignored", () => {
  expect(clientAddressOf("198.51.100.9", "203.0.113.5", none)).toBe("198.51.100.9");
  expect(clientAddressOf("::ffff:198.51.100.9", null, none)).toBe("198.51.100.9");
  expect(clientAddressOf(undefined, "203.0.113.5", none)).toBeUndefined();
});

test("a trusted proxy's header names the client, read from the right past other trusted proxies", () => {
  const trusted = parseTrustedProxies(["10.0.0.1,10.0.0.2", "::1"]);
  expect(clientAddressOf("10.0.0.1", "203.0.113.5", trusted)).toBe("203.0.113.5");
  expect(clientAddressOf("::ffff:10.0.0.1", " 203.0.113.5 ", trusted)).toBe("203.0.113.5");
  // A client's own X-Forwarded-For comes first: the proxy's appended hop is what counts.
  expect(clientAddressOf("10.0.0.1", "1.2.3.4, 203.0.113.5", trusted)).toBe("203.0.113.5");
  expect(clientAddressOf("10.0.0.1", "203.0.113.5, 10.0.0.2", trusted)).toBe("203.0.113.5");
  // No header, or a hop that is not an address: the proxy itself.
  expect(clientAddressOf("10.0.0.1", null, trusted)).toBe("10.0.0.1");
  expect(clientAddressOf("10.0.0.1", "unknown", trusted)).toBe("10.0.0.1");
  // Only trusted proxies in the chain: the first of them.
  expect(clientAddressOf("10.0.0.1", "10.0.0.2", trusted)).toBe("10.0.0.2");
  // Anyone else's header is ignored.
  expect(clientAddressOf("198.51.100.9", "10.0.0.1", trusted)).toBe("198.51.100.9");
});

test("--trusted-proxy and SHIELD_TRUSTED_PROXY: IP addresses, flags winning; anything else is a usage error", () => {
  const cfg = (argv: string[], env: Record<string, string> = {}) => daemonConfig(argv, env) as Exclude<ReturnType<typeof daemonConfig>, "help">;
  expect([...cfg([]).trustedProxies]).toEqual([]);
  expect([...cfg(["--trusted-proxy", "127.0.0.1", "--trusted-proxy", "::1"]).trustedProxies]).toEqual(["127.0.0.1", "::1"]);
  expect([...cfg([], { SHIELD_TRUSTED_PROXY: "10.0.0.1, 10.0.0.2" }).trustedProxies]).toEqual(["10.0.0.1", "10.0.0.2"]);
  expect([...cfg(["--trusted-proxy", "127.0.0.1"], { SHIELD_TRUSTED_PROXY: "10.0.0.1" }).trustedProxies]).toEqual(["127.0.0.1"]);
  expect(() => cfg(["--trusted-proxy", "proxy.example"])).toThrow('--trusted-proxy (SHIELD_TRUSTED_PROXY) must be IP addresses, comma-separated (got "proxy.example")');
  expect(() => cfg([], { SHIELD_TRUSTED_PROXY: "10.0.0.0/8" })).toThrow("must be IP addresses");
});
