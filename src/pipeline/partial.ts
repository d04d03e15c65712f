// Partial blobs, the daemon's side (the plugin's side and the whole contract:
// plugins/protocol.ts). A store killed before it finished may leave what it had
// written under a name only it knew, and the daemon dying cannot ask it. So the
// daemon names it first: the store runs with SHIELD_PARTIAL_ID, and once the run
// is known dead (crash recovery) the daemon runs the store's `purge` with the key
// `partial:ID`, if the store's `info` says it keeps this contract. Repeated crashes
// then cannot fill a store with orphans.

/** The environment that names a store's partial blob. */
export function partialEnv(id: string): Record<string, string> {
  return { SHIELD_PARTIAL_ID: id };
}

/** Whether a store keeps the contract: its `info` says `"partial_blobs": "yes"` (others are never sent such a key). */
export function namesPartialBlobs(info: { [key: string]: unknown }): boolean {
  return info.partial_blobs === "yes";
}

/** The key a store's `purge` takes to remove what it kept under a partial id (idempotent). */
export function partialKey(id: string): string {
  return `partial:${id}`;
}
