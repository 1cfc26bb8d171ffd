import { RedisStore } from './lib/store/RedisStore';
(async () => {
  const s = new RedisStore({ url: 'redis://127.0.0.1:6379/11', prefix: 'wjt-tmp:', noInterval: true });
  s.bindAppId('wxA');
  console.log(await s.getSignature('https://x/'));
  await s.destroy();
  setTimeout(() => console.log('destroyed', (process as any)._getActiveHandles().map((h: any) => h.constructor.name)), 1000).unref();
})();
