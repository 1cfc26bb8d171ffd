/**
 * Small real servers for HttpClient tests: one that drops every connection (a network error the sandbox's fault
 * injection cannot produce) and a plain HTTP forward proxy.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  port: number;
  /** Connections (reset server) or proxied requests (proxy) seen so far. */
  count(): number;
  close(): Promise<void>;
}

/** Accepts TCP connections and resets them at once: the client sees ECONNRESET / "socket hang up". */
export async function resettingServer(): Promise<TestServer> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.resetAndDestroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    count: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A forward proxy for plain-HTTP targets: requests arrive in absolute form and are relayed. */
export async function forwardProxy(): Promise<TestServer & { seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const target = new URL(req.url ?? '/');
    const upstream = http.request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host, connection: 'close' } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-via-test-proxy': '1' });
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    count: () => seen.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
