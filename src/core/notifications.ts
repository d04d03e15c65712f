// The rules of notification channels: their settings checked by kind, their
// secrets sealed with the master key in the catalog and redacted in every answer
// (an admin re-sends the redacted value to keep a secret as it is), their rules
// of events and jobs, and the test send.
import { nowSeconds, type Catalog, type ChannelRow, type DeliveryFilter, type Page } from "../catalog/index.ts";
import { isUniqueViolation } from "../catalog/index.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { mapSecrets } from "../secret-names.ts";
import { checkSettings, DEFAULT_EVENTS, PING_EVENTS, secretSettings, type ChannelKind } from "../notify/channels.ts";
import { Conflict, InvalidInput, NotFound } from "./errors.ts";

/** What a secret setting reads as in answers; sent back unchanged, it keeps the stored value. */
export const REDACTED_SETTING = "********";

export interface ChannelInput {
  name: string;
  kind: ChannelKind;
  settings: Record<string, unknown>;
  events?: string[];
  jobs?: string[];
}

export interface ChannelView {
  uuid: string; name: string; kind: ChannelKind; settings: Record<string, unknown>; events: string[]; jobs: string[]; createdAt: number;
}

/** Sends a test message through a channel; resolves with the failure's words, or undefined when it went. */
export type ChannelTester = (uuid: string, settings: Record<string, unknown>, kind: ChannelKind) => Promise<string | undefined>;

export function notificationRules(catalog: Catalog, secrets: EndpointSecrets | undefined, tester?: ChannelTester) {
  const q = catalog.notifications;

  const opened = (row: ChannelRow): Record<string, unknown> =>
    JSON.parse(secrets ? secrets.open(row.settings).endpoint : row.settings) as Record<string, unknown>;
  const sealed = (kind: string, settings: Record<string, unknown>): string =>
    secrets ? secrets.seal(JSON.stringify(settings), secretSettings(kind)) : JSON.stringify(settings);
  const redacted = (kind: string, settings: Record<string, unknown>) =>
    mapSecrets(settings, secretSettings(kind), (v) => (v === undefined || v === "" ? v : REDACTED_SETTING));

  const view = (row: ChannelRow): ChannelView => ({
    uuid: row.uuid, name: row.name, kind: row.kind as ChannelKind, events: JSON.parse(row.events), jobs: JSON.parse(row.jobs),
    createdAt: row.createdAt, settings: redacted(row.kind, opened(row)),
  });

  async function checkedJobs(jobs: string[]): Promise<string[]> {
    for (const [i, uuid] of jobs.entries()) {
      if (!(await catalog.jobs.get(uuid))) throw new InvalidInput(`jobs.${i}: no job with uuid ${uuid}`, { [`jobs.${i}`]: `no job with uuid ${uuid}` });
    }
    return [...new Set(jobs)];
  }

  /** The settings to store: checked for the kind, a redacted value replaced by the stored one. */
  function settingsFor(kind: ChannelKind, given: Record<string, unknown>, before?: Record<string, unknown>): Record<string, unknown> {
    const merged = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v === REDACTED_SETTING && before && k in before ? before[k] : v]));
    const r = checkSettings(kind, merged);
    if (!r.ok) throw new InvalidInput(`invalid settings: ${Object.entries(r.fields).map(([k, m]) => `${k}: ${m}`).join("; ")}`, r.fields);
    if (Object.values(merged).includes(REDACTED_SETTING)) throw new InvalidInput(`settings: "${REDACTED_SETTING}" keeps a stored secret; this channel has none under that key`);
    return r.value;
  }

  async function get(uuid: string): Promise<ChannelRow> {
    const row = await q.channels.get(uuid);
    if (!row) throw new NotFound("notification channel", uuid);
    return row;
  }

  const named = async <T>(name: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`a notification channel named "${name}" already exists`);
      throw err;
    }
  };

  return {
    async list(): Promise<ChannelView[]> {
      return (await q.channels.list()).map(view);
    },
    async get(uuid: string): Promise<ChannelView> {
      return view(await get(uuid));
    },
    async create(input: ChannelInput): Promise<string> {
      const settings = settingsFor(input.kind, input.settings);
      const events = input.events ?? (input.kind === "ping" ? PING_EVENTS : DEFAULT_EVENTS);
      const jobs = await checkedJobs(input.jobs ?? []);
      const uuid = crypto.randomUUID();
      await named(input.name, () => q.channels.create({
        uuid, name: input.name, kind: input.kind, settings: sealed(input.kind, settings),
        events: JSON.stringify([...new Set(events)]), jobs: JSON.stringify(jobs), createdAt: nowSeconds(),
      }));
      return uuid;
    },
    /** The kind stays; settings, events and jobs are replaced by what is given. */
    async update(uuid: string, input: Partial<Omit<ChannelInput, "kind">>): Promise<void> {
      const row = await get(uuid);
      const kind = row.kind as ChannelKind;
      const patch: Partial<ChannelRow> = {};
      if (input.name !== undefined) patch.name = input.name;
      if (input.settings !== undefined) patch.settings = sealed(kind, settingsFor(kind, input.settings, opened(row)));
      if (input.events !== undefined) patch.events = JSON.stringify([...new Set(input.events)]);
      if (input.jobs !== undefined) patch.jobs = JSON.stringify(await checkedJobs(input.jobs));
      // Nothing given: nothing to write (the channel exists; that is all a PUT of {} can say).
      if (!Object.keys(patch).length) return;
      await named(input.name ?? row.name, () => q.channels.update(uuid, patch));
    },
    async delete(uuid: string): Promise<void> {
      if (!(await q.channels.delete(uuid))) throw new NotFound("notification channel", uuid);
    },
    /** Sends a test message now: the answer says whether it went, and if not, why. */
    async test(uuid: string): Promise<{ sent: boolean; error?: string }> {
      const row = await get(uuid);
      if (!tester) return { sent: false, error: "this daemon sends no notifications" };
      const error = await tester(uuid, opened(row), row.kind as ChannelKind);
      return error === undefined ? { sent: true } : { sent: false, error };
    },
    async deliveries(f: DeliveryFilter, page: Page) {
      return q.deliveries.list(f, page);
    },
  };
}
