/**
 * Shared by the payment suites: a merchant's notify_url server (real HTTP), merchant constants, `caught`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const MCH_ID = '1900000109';
export const MCH_ID2 = '1900000110';
/** 32-character v2 API key and APIv3 key of the test merchant (not real). */
export const PAY_KEY = 'k2'.padEnd(32, 'x');
export const PAY_KEY2 = 'k3'.padEnd(32, 'y');
export const API_V3_KEY = 'v3'.padEnd(32, 'z');

export interface ReceivedNotification {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The rejection of `promise`; fails the test when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

export type NotifyHandler = (n: ReceivedNotification) => Promise<{ status?: number; body?: string }>;

/** A merchant server: every POST is recorded and answered by `handler` (replaceable per test). */
export async function startNotifyServer(handler: NotifyHandler) {
  const received: ReceivedNotification[] = [];
  const state = { handler };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(n);
      state
        .handler(n)
        .then((reply) => {
          res.writeHead(reply.status ?? 200, { 'Content-Type': 'text/plain' });
          res.end(reply.body ?? '');
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(`merchant error: ${err.message}`);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    setHandler(next: NotifyHandler) {
      state.handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
