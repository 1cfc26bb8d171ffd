import { Store } from '../../lib/store/Store';
import { storeContract } from '../store-contract';

storeContract('memory Store', {
  persistent: false,
  sharedRecords: false,
  sharedLock: false,
  newestWins: false,
  backend: () => ({ create: ({ now }) => new Store({ noInterval: true, now }) }),
});
