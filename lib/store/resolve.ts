/** The store a feature uses: the one passed in (accepted by its shape) or a new default FileStore. */
import { ConfigError } from '../errors';
import { FileStore, type FileStoreOptions } from './FileStore';
import { missingStoreMethods, type Store } from './Store';

export function storeFromOptions(
  options: { store?: Store; storeOptions?: FileStoreOptions },
  now: () => number,
): { store: Store; created: boolean } {
  if (options.store === undefined) return { store: new FileStore({ now, ...options.storeOptions }), created: true };
  const missing = missingStoreMethods(options.store);
  if (missing.length > 0) {
    throw new ConfigError(
      'store',
      `is not a Store (missing ${missing.join(', ')}); pass a Store, FileStore, MongoStore, RedisStore, or wrap a key-value object in KeyValueStore`,
    );
  }
  return { store: options.store, created: false };
}
