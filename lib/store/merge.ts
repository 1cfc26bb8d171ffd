/**
 * How shared stores apply a write to the global token record and the card ticket so that concurrent writers
 * converge: each credential in the global token is a group `<name>`, `<name>ExpiresAt`, `<name>FetchedAt`
 * (see credentials/backends.ts) and, per group, the copy fetched last wins. A slow writer (a retry after an
 * outage, a command that sat in a queue) therefore never overwrites a newer token with an older one. Other fields
 * (the force_refresh budget) are written as given.
 */
import { FETCHED_SUFFIX, EXPIRES_SUFFIX, type CardTicketInfo, type GlobalTokenInfo } from './types';

/** Fields the store itself maintains; a caller's value for them is ignored. */
const MANAGED_FIELDS = new Set(['count', 'modifyDate']);

export interface CredentialGroup {
  /** `<name>FetchedAt`: compared to decide which copy is newer. */
  fetchedField: string;
  fetchedAt: number;
  fields: Record<string, unknown>;
}

export interface GlobalUpdate {
  /** Written unconditionally. */
  plain: Record<string, unknown>;
  /** Written only when not older than what the store holds. */
  groups: CredentialGroup[];
}

export function splitGlobalUpdate(info: GlobalTokenInfo): GlobalUpdate {
  const plain: Record<string, unknown> = {};
  const groups: CredentialGroup[] = [];
  const grouped = new Set<string>();
  for (const [field, value] of Object.entries(info ?? {})) {
    if (!field.endsWith(FETCHED_SUFFIX) || field === FETCHED_SUFFIX) continue;
    const fetchedAt = Number(value);
    if (!Number.isFinite(fetchedAt)) continue;
    const name = field.slice(0, -FETCHED_SUFFIX.length);
    const fields: Record<string, unknown> = {};
    for (const member of [name, name + EXPIRES_SUFFIX, field]) {
      if (member in info) {
        fields[member] = info[member];
        grouped.add(member);
      }
    }
    groups.push({ fetchedField: field, fetchedAt, fields });
  }
  for (const [field, value] of Object.entries(info ?? {})) {
    if (!grouped.has(field) && !MANAGED_FIELDS.has(field) && value !== undefined) plain[field] = value;
  }
  return { plain, groups };
}

/** `current` with `update` applied (newest group wins, ties overwrite), `count` bumped and `modifyDate` set. */
export function applyGlobalUpdate(current: GlobalTokenInfo, update: GlobalUpdate, modifyDate: string): GlobalTokenInfo {
  const next: GlobalTokenInfo = { ...current, ...update.plain };
  for (const group of update.groups) {
    const stored = Number(current[group.fetchedField]);
    if (Number.isFinite(stored) && stored > group.fetchedAt) continue;
    Object.assign(next, group.fields);
  }
  next.count = (Number(current.count) || 0) + 1;
  next.modifyDate = modifyDate;
  return next;
}

/**
 * A card ticket write as an update of its record: one group keyed by `fetchedAt` (written as a whole when not older),
 * or, without a usable `fetchedAt`, plain fields. `modifyDate` is the store's own.
 */
export function cardUpdate(info: CardTicketInfo): GlobalUpdate {
  const { modifyDate: _ignored, ...fields } = info;
  const fetchedAt = Number(info.fetchedAt);
  return Number.isFinite(fetchedAt)
    ? { plain: {}, groups: [{ fetchedField: 'fetchedAt', fetchedAt, fields }] }
    : { plain: fields, groups: [] };
}

/** The card ticket record is one group keyed by `fetchedAt`. */
export function applyCardUpdate(current: CardTicketInfo, info: CardTicketInfo, modifyDate: string): CardTicketInfo {
  const stored = Number(current.fetchedAt);
  const incoming = Number(info.fetchedAt);
  if (Number.isFinite(stored) && Number.isFinite(incoming) && stored > incoming) return current;
  return { ...current, ...info, modifyDate };
}

/** Two updates as one (kept while the backend is away): later plain values win, and per group the newer fetch. */
export function mergeUpdates(older: GlobalUpdate | undefined, newer: GlobalUpdate): GlobalUpdate {
  if (!older) return newer;
  const groups = new Map(older.groups.map((g) => [g.fetchedField, g]));
  for (const group of newer.groups) {
    const kept = groups.get(group.fetchedField);
    if (!kept || kept.fetchedAt <= group.fetchedAt) groups.set(group.fetchedField, group);
  }
  return { plain: { ...older.plain, ...newer.plain }, groups: [...groups.values()] };
}

/** What of `pending` is still not in the backend after `written` was stored; undefined when nothing. */
export function withoutWritten(pending: GlobalUpdate | undefined, written: GlobalUpdate): GlobalUpdate | undefined {
  if (!pending) return undefined;
  const plain = { ...pending.plain };
  for (const field of Object.keys(written.plain)) delete plain[field];
  const groups = pending.groups.filter(
    (group) => !written.groups.some((w) => w.fetchedField === group.fetchedField && w.fetchedAt >= group.fetchedAt),
  );
  return Object.keys(plain).length || groups.length ? { plain, groups } : undefined;
}
