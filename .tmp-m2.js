const mongoose = require('mongoose');
const { spawn } = require('child_process');
const port = 28123;
let child;
const start = () => new Promise((res) => { child = spawn('node', ['test/setup/mongo-server.mjs', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] }); child.stdout.once('data', () => res()); });
const stop = () => new Promise((res) => { child.once('exit', res); child.kill('SIGTERM'); });
const t0 = Date.now(); const log = (...a) => console.log(((Date.now()-t0)/1000).toFixed(2), ...a);
(async () => {
  const conn = mongoose.createConnection();
  for (const ev of ['connected','disconnected','reconnected','close','error','open']) conn.on(ev, (e) => log('event', ev, e?.message ?? ''));
  const opts = { serverSelectionTimeoutMS: 1500, connectTimeoutMS: 1500, heartbeatFrequencyMS: 1000, bufferCommands: false };
  try { await conn.openUri(`mongodb://127.0.0.1:${port}/w`, opts); } catch (e) { log('initial fail', e.name, conn.readyState); }
  await start(); log('server up');
  try { await conn.openUri(`mongodb://127.0.0.1:${port}/w`, opts); log('reopen ok', conn.readyState); } catch (e) { log('reopen fail', e.message); }
  const col = () => conn.db.collection('x');
  log(await col().insertOne({ a: 1 }).then(() => 'ins ok'));
  await stop(); log('server down, state', conn.readyState);
  for (let i = 0; i < 4; i++) { const t = Date.now(); await col().findOne({}).then(() => log('find ok')).catch((e) => log('find err', e.name, Date.now() - t, 'ms, state', conn.readyState)); }
  await start(); log('server up again');
  for (let i = 0; i < 10; i++) { await new Promise(r => setTimeout(r, 300)); log('state', conn.readyState); if (conn.readyState === 1) break; }
  log(await col().findOne({}).then(d => 'find ' + JSON.stringify(d)).catch(e => e.message));
  await conn.close(); await stop();
})();
