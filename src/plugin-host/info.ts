// What a plugin says about itself (its `info`), as the daemon receives it, and
// the ways asking a plugin can fail. The shape is the protocol's own
// (plugins/protocol.ts, which the built-ins print), loosened: a plugin written
// for the original Shield may leave out anything but `features`, spell
// `required` as "yes", or add keys of its own, so nothing here trusts more.
import type { PluginField as DeclaredField, PluginInfo as DeclaredInfo } from "../../plugins/protocol.ts";

/** One endpoint field as a plugin declared it: possibly partial, possibly with keys of its own ("mode"). */
export type PluginField = Partial<Omit<DeclaredField, "name" | "required">> & { name: string; required?: boolean | string; [key: string]: unknown };

export interface PluginInfo {
  name: string;
  author?: string;
  version?: string;
  features: DeclaredInfo["features"];
  endpoint_from?: DeclaredInfo["endpoint_from"];
  partial_blobs?: DeclaredInfo["partial_blobs"];
  fields?: PluginField[];
  [key: string]: unknown;
}

export type Role = "target" | "store";

export class PluginMissing extends Error {}
/** The plugin exists but cannot play the role asked of it (its `features` say "no"). */
export class PluginUnfit extends Error {}
/**
 * An action of the plugin failed: it exited non-zero (`exitCode`, its words in
 * `output`), could not be started, or did not answer in time (`timedOut`).
 */
export class PluginFailed extends Error {
  constructor(message: string, readonly exitCode: number, readonly output: string, readonly timedOut = false) { super(message); }
}
