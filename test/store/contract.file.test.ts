import path from 'node:path';
import { FileStore } from '../../lib/store/FileStore';
import { storeContract } from '../store-contract';
import { tempDir } from '../helpers';

const temp = tempDir('wechat-contract-');
let backends = 0;

storeContract('FileStore', {
  persistent: true,
  sharedRecords: false,
  sharedLock: true,
  newestWins: true,
  backend: () => {
    const fileStorePath = path.join(temp.dir, `store-${backends++}.json`);
    return { create: ({ now }) => new FileStore({ fileStorePath, noInterval: true, now }) };
  },
  teardown: async () => temp.cleanup(),
});
