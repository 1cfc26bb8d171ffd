import express from 'express';
import { createWechatRouter } from '../../lib/server/express';
import { helperSuite } from './suite';

helperSuite('express', (wx, { onLogin, ...options }) => {
  const app = express();
  app.use(createWechatRouter(wx, { ...options, oauth: onLogin ? { onLogin: (login) => onLogin(login) } : undefined }));
  app.get('/other', (_req, res) => {
    res.send('app');
  });
  return app.listen(0, '127.0.0.1');
});
