import Koa from 'koa';
import { createWechatMiddleware } from '../../lib/server/koa';
import { helperSuite } from './suite';

helperSuite('koa', (wx, { onLogin, ...options }) => {
  const app = new Koa();
  app.use(
    createWechatMiddleware(wx, { ...options, oauth: onLogin ? { onLogin: (login) => onLogin(login) } : undefined }),
  );
  app.use((ctx) => {
    if (ctx.path === '/other') ctx.body = 'app';
  });
  return app.listen(0, '127.0.0.1');
});
