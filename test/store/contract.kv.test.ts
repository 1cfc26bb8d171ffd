import { KeyValueStore } from '../../lib/store/KeyValueStore';
import { storeContract } from '../store-contract';

storeContract('KeyValueStore over a Map', {
  persistent: true,
  sharedRecords: true,
  sharedLock: true,
  newestWins: true,
  backend: () => {
    const map = new Map<string, unknown>();
    return { create: ({ now }) => new KeyValueStore(map, { noInterval: true, now }) };
  },
});
