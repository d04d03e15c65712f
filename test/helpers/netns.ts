// A network namespace with a veth pair to it, so that a test's agent is reached
// only over a network link, as on another host. Needs root (or CAP_NET_ADMIN) and
// `ip`; where it cannot be made, tests skip loudly (and fail under CI=true).
import { spawnSync } from "node:child_process";
import { requireOrSkip } from "./services.ts";

export interface NetNs {
  name: string;
  /** The host's end of the link, and the namespace's. */
  hostAddress: string;
  nsAddress: string;
  /** Prefixes a command to run it inside the namespace. */
  exec: string[];
  remove(): void;
}

function ip(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  return { ok: r.status === 0, err: (r.stderr || "").trim() };
}

function probe(): boolean {
  const name = `shield-probe-${process.pid}`;
  if (!ip(["netns", "add", name]).ok) return false;
  ip(["netns", "del", name]);
  return true;
}

export const netnsAvailable = requireOrSkip("network namespaces", probe(), "root (CAP_NET_ADMIN) and iproute2's `ip netns`");

let counter = 0;

export function makeNetNs(): NetNs {
  const id = `${process.pid % 10000}${counter++}`;
  const name = `shield-t${id}`;
  // A /30 of 10.231.0.0/16 per namespace, from the pid: parallel test files do not collide.
  const n = (process.pid * 4 + counter * 4) % 65536;
  const base = `10.231.${n >> 8}.${n & 0xfc}`;
  const [a, b, c] = base.split(".").map(Number) as [number, number, number, number];
  const last = n & 0xfc;
  const hostAddress = `${a}.${b}.${c}.${last + 1}`;
  const nsAddress = `${a}.${b}.${c}.${last + 2}`;
  const hostIf = `vh${id}`.slice(0, 15);
  const nsIf = `vn${id}`.slice(0, 15);
  const steps: string[][] = [
    ["netns", "add", name],
    ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf],
    ["link", "set", nsIf, "netns", name],
    ["addr", "add", `${hostAddress}/30`, "dev", hostIf],
    ["link", "set", hostIf, "up"],
    ["netns", "exec", name, "ip", "addr", "add", `${nsAddress}/30`, "dev", nsIf],
    ["netns", "exec", name, "ip", "link", "set", nsIf, "up"],
    ["netns", "exec", name, "ip", "link", "set", "lo", "up"],
  ];
  const remove = () => { ip(["link", "del", hostIf]); ip(["netns", "del", name]); };
  for (const s of steps) {
    const r = ip(s);
    if (!r.ok) { remove(); throw new Error(`ip ${s.join(" ")}: ${r.err}`); }
  }
  return { name, hostAddress, nsAddress, exec: ["ip", "netns", "exec", name], remove };
}
