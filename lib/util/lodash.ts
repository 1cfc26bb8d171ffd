/**
 * lodash is CommonJS without statically detectable exports, so `import { pick } from 'lodash'` fails when our ESM
 * build runs in Node. Importing the default (module.exports) works in ESM, CJS and the tests alike.
 */
import lodash from 'lodash';

export const { cloneDeep, isEmpty, omit, pick } = lodash;
