const { createClient } = require('redis');
(async () => {
  const c = createClient({ url: 'redis://127.0.0.1:6379/11', disableOfflineQueue: true });
  c.on('error', (e) => console.log('err', e.message));
  c.connect().then(() => console.log('connected'), (e) => console.log('connect rejected', e.message));
  // no wait
  console.log('isOpen', c.isOpen, 'isReady', c.isReady);
  c.destroy();
  console.log('after destroy isOpen', c.isOpen);
  setTimeout(() => console.log('handles', process._getActiveHandles().map((h) => h.constructor.name), c.isOpen, c.isReady), 500);
})();
