/**
 * Adapters from the credential engine's tiny backend contract to the Store API. The engine never sees a store's
 * shape, and custom stores written for wechat-jssdk only need getGlobalToken/updateGlobalToken.
 */
import type { Store } from '../store/Store';
import { EXPIRES_SUFFIX, FETCHED_SUFFIX, type Lockable } from '../store/types';
import type { CredentialBackend, CredentialRecord } from './Credential';

function lockOf(store: Store): CredentialBackend['lock'] {
  const lockable = store as unknown as Partial<Lockable>;
  return typeof lockable.lock === 'function' ? (name, ttl) => lockable.lock!(name, ttl) : undefined;
}

/** A credential kept in the global token record as `<field>`, `<field>ExpiresAt`, `<field>FetchedAt`. */
export function globalTokenBackend(store: Store, field: string, lockPrefix = ''): CredentialBackend {
  const lock = lockOf(store);
  return {
    async read() {
      const info = await store.getGlobalToken();
      const value = info?.[field];
      const expiresAt = Number(info?.[field + EXPIRES_SUFFIX]);
      // A record without an absolute expiry (e.g. left by wechat-jssdk) cannot be trusted: refetch.
      if (typeof value !== 'string' || !Number.isFinite(expiresAt)) return null;
      return { value, expiresAt, fetchedAt: Number(info[field + FETCHED_SUFFIX] ?? 0) };
    },
    async write(record: CredentialRecord) {
      await store.updateGlobalToken({
        [field]: record.value,
        [field + EXPIRES_SUFFIX]: record.expiresAt,
        [field + FETCHED_SUFFIX]: record.fetchedAt,
      });
    },
    lock: lock && ((name, ttl) => lock(lockPrefix + name, ttl)),
  };
}

/** The card api_ticket, kept in the store's own card record (wechat-jssdk's getCardTicket/updateCardTicket). */
export function cardTicketBackend(store: Store): CredentialBackend {
  return {
    async read() {
      const info = await store.getCardTicket();
      if (typeof info?.ticket !== 'string' || !Number.isFinite(Number(info.expiresAt))) return null;
      return { value: info.ticket, expiresAt: Number(info.expiresAt), fetchedAt: Number(info.fetchedAt ?? 0) };
    },
    async write(record) {
      await store.updateCardTicket({
        ticket: record.value,
        expiresAt: record.expiresAt,
        fetchedAt: record.fetchedAt,
        expires_in: Math.round((record.expiresAt - record.fetchedAt) / 1000),
      });
    },
    lock: lockOf(store),
  };
}
