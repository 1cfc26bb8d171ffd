/**
 * The sandbox's shared state and HTTP plumbing. Route modules (routes/*.ts) register handlers on a SandboxCore;
 * the core gives them the clock, the apps, the users, token checks, counters and fault injection.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const DAY_MS = 24 * 60 * 60_000;
/** WeChat keeps a replaced access_token working this long. */
export const TOKEN_OVERLAP_MS = 5 * 60_000;
export const TOKEN_TTL_S = 7200;

export interface SandboxApp {
  appId: string;
  appSecret: string;
  /** `official` (default), `miniprogram`, or `open` (website login). */
  kind?: 'official' | 'miniprogram' | 'open';
  /** Daily /cgi-bin/token quota (default 2000). */
  tokenQuota?: number;
  /** Return `unionid` from OAuth and jscode2session (default: true for `open` apps, false otherwise). */
  unionid?: boolean;
}

export interface SandboxUser {
  /** Stable id for the sandbox; the openid differs per app, the unionid is shared, as in WeChat. */
  id: string;
  nickname: string;
  sex?: number;
  province?: string;
  city?: string;
  country?: string;
  headimgurl?: string;
  /** A phone number for the mini-program phone grant. */
  phoneNumber?: string;
}

export const DEFAULT_USERS: SandboxUser[] = [
  {
    id: 'alice',
    nickname: 'Alice 爱丽丝',
    sex: 2,
    province: 'Guangdong',
    city: 'Shenzhen',
    country: 'CN',
    phoneNumber: '13800138000',
  },
  {
    id: 'bob',
    nickname: 'Bob 小明',
    sex: 1,
    province: 'Beijing',
    city: 'Beijing',
    country: 'CN',
    phoneNumber: '13900139000',
  },
  { id: 'carol', nickname: 'Carol', sex: 0, province: '', city: '', country: 'CN', phoneNumber: '13700137000' },
];

export interface FaultSpec {
  /** Answer `{ errcode, errmsg }` with HTTP 200. */
  errcode?: number;
  errmsg?: string;
  /** Answer with this HTTP status (and `body`, or a short text). */
  status?: number;
  /** Raw body to send (e.g. an HTML error page). */
  body?: string;
  /** Wait this long before handling (or before the fault). */
  delayMs?: number;
  /** Never answer (the socket stays open until the client gives up or the sandbox closes). */
  hang?: boolean;
  /** Apply this many times, then behave normally (default: until cleared). */
  times?: number;
}

export interface TokenRecord {
  value: string;
  appId: string;
  family: 'classic' | 'stable';
  expiresAt: number;
  /** Set when replaced or revoked; the token fails from this time on. */
  deadAt?: number;
  /** Revoked, but stable_token normal mode still returns it (only force_refresh replaces it). */
  revokedOnly?: boolean;
}

export interface SandboxRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  /** Form fields (application/x-www-form-urlencoded). */
  form: Record<string, string>;
}

export interface SandboxResponse {
  status?: number;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** 302 to this location. */
  redirect?: string;
}

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

export function ok(fields: Record<string, unknown> = {}): SandboxResponse {
  return { json: fields };
}

export function fail(errcode: number, errmsg: string): SandboxResponse {
  // WeChat appends a request id to error messages; the SDK parses it into `rid`.
  return {
    json: { errcode, errmsg: `${errmsg} rid: ${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}` },
  };
}

/** A control endpoint (`/__sandbox/...`) refusing its input: HTTP 400 with the reason. */
export function badRequest(err: unknown): SandboxResponse {
  return { status: 400, json: { errcode: 400, errmsg: (err as Error).message } };
}

export function randomToken(prefix: string, bytes = 48): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

export class SandboxCore {
  readonly apps = new Map<string, Required<Omit<SandboxApp, 'tokenQuota'>> & { tokenQuota: number }>();
  readonly users: SandboxUser[];
  readonly tokens = new Map<string, TokenRecord>();
  /** Calls per path since start (or the last resetCalls). */
  readonly counters = new Map<string, number>();
  private readonly routes = new Map<string, Handler>();
  private readonly faults = new Map<string, FaultSpec & { left: number }>();
  private readonly hanging = new Set<http.ServerResponse>();
  private offset = 0;
  private frozenAt?: number;
  server?: http.Server;
  url = '';

  constructor(apps: SandboxApp[], users: SandboxUser[] = DEFAULT_USERS) {
    for (const app of apps) this.addApp(app);
    this.users = users;
  }

  addApp(app: SandboxApp): void {
    if (!app.appId || !app.appSecret) throw new Error('sandbox app needs appId and appSecret');
    this.apps.set(app.appId, { kind: 'official', tokenQuota: 2000, unionid: app.kind === 'open', ...app } as any);
  }

  // ---- clock ------------------------------------------------------------------------------------------------

  /** The sandbox's clock in ms; pass `() => sandbox.now()` to the SDK's `now` option to share it. */
  now(): number {
    return (this.frozenAt ?? Date.now()) + this.offset;
  }

  /** Move the clock forward (expiry tests without sleeping). */
  advance(ms: number): void {
    this.offset += ms;
  }

  /** Set the clock to an absolute time. */
  setTime(ms: number): void {
    this.offset = ms - (this.frozenAt ?? Date.now());
  }

  /** Stop the clock (it then moves only with advance/setTime), or let it run again. */
  freeze(frozen = true): void {
    const now = this.now();
    this.frozenAt = frozen ? Date.now() : undefined;
    this.setTime(now);
  }

  // ---- routing, counters, faults ----------------------------------------------------------------------------

  route(method: 'GET' | 'POST' | 'ALL', path: string, handler: Handler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Inject a fault on `path` (e.g. '/cgi-bin/stable_token'). */
  fault(path: string, spec: FaultSpec): void {
    this.faults.set(path, { ...spec, left: spec.times ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(path?: string): void {
    if (path) this.faults.delete(path);
    else this.faults.clear();
  }

  /** How many requests reached `path` (or all paths as an object). */
  calls(path: string): number;
  calls(): Record<string, number>;
  calls(path?: string): number | Record<string, number> {
    if (path !== undefined) return this.counters.get(path) ?? 0;
    return Object.fromEntries(this.counters);
  }

  resetCalls(): void {
    this.counters.clear();
  }

  // ---- apps, users, tokens ----------------------------------------------------------------------------------

  /** Checks appid/secret like WeChat: 40013 for an unknown appid, 40125 for a wrong secret. */
  checkApp(appid: unknown, secret: unknown): SandboxResponse | undefined {
    const app = typeof appid === 'string' ? this.apps.get(appid) : undefined;
    if (!app) return fail(40013, 'invalid appid');
    if (secret !== app.appSecret) return fail(40125, 'invalid appsecret');
    return undefined;
  }

  issueToken(appId: string, family: TokenRecord['family'], ttlS = TOKEN_TTL_S): TokenRecord {
    const record: TokenRecord = {
      value: randomToken(family === 'stable' ? 'S_' : 'C_'),
      appId,
      family,
      expiresAt: this.now() + ttlS * 1000,
    };
    this.tokens.set(record.value, record);
    return record;
  }

  /** The token's app, or the WeChat error for a dead one: 40001 unknown/replaced, 42001 expired. */
  checkToken(token: unknown): { appId: string; error?: undefined } | { error: SandboxResponse; appId?: undefined } {
    const record = typeof token === 'string' ? this.tokens.get(token) : undefined;
    const now = this.now();
    if (!record || (record.deadAt !== undefined && now >= record.deadAt)) {
      return { error: fail(40001, 'invalid credential, access_token is invalid or not latest') };
    }
    if (now >= record.expiresAt) return { error: fail(42001, 'access_token expired') };
    return { appId: record.appId };
  }

  /** Another system refreshed the token: every access_token issued so far for `appId` stops working now. */
  rotateToken(appId: string): void {
    const now = this.now();
    for (const record of this.tokens.values()) {
      if (record.appId === appId && (record.deadAt === undefined || record.deadAt > now)) record.deadAt = now;
    }
  }

  /** Kill one token but keep serving it from stable_token normal mode (forces the SDK to use force_refresh). */
  revokeToken(token: string): void {
    const record = this.tokens.get(token);
    if (record) record.deadAt = this.now();
  }

  /** openid of `user` for `appId` (differs per app, like WeChat). */
  openid(appId: string, userId: string): string {
    return 'o' + createHash('sha256').update(`${appId}:${userId}`).digest('base64url').slice(0, 27);
  }

  unionid(userId: string): string {
    return 'u' + createHash('sha256').update(`union:${userId}`).digest('base64url').slice(0, 27);
  }

  userByOpenid(appId: string, openid: string): SandboxUser | undefined {
    return this.users.find((u) => this.openid(appId, u.id) === openid);
  }

  user(id: string): SandboxUser | undefined {
    return this.users.find((u) => u.id === id);
  }

  // ---- server -----------------------------------------------------------------------------------------------

  async listen(port = 0, host = '127.0.0.1'): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.url = `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  /** Count a request to `path` (calls()). */
  count(path: string): void {
    this.counters.set(path, (this.counters.get(path) ?? 0) + 1);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const path = url.pathname;
      const body = await readBody(req);
      this.count(path);
      const fault = this.faults.get(path);
      if (fault && fault.left > 0) {
        fault.left--;
        if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault.hang) {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        if (fault.errcode !== undefined) return send(res, fail(fault.errcode, fault.errmsg ?? 'injected fault'));
        if (fault.status !== undefined || fault.body !== undefined) {
          return send(res, {
            status: fault.status ?? 200,
            body: fault.body ?? `HTTP ${fault.status}`,
            headers: { 'Content-Type': 'text/html' },
          });
        }
      }
      const handler = this.routes.get(`${req.method} ${path}`) ?? this.routes.get(`ALL ${path}`);
      if (!handler) return send(res, { status: 404, json: { errcode: 404, errmsg: `sandbox: no such API ${path}` } });
      const text = body.toString('utf8');
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const form = String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')
        ? Object.fromEntries(new URLSearchParams(text))
        : {};
      const response = await handler({
        method: req.method ?? 'GET',
        path,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        json,
        form,
      });
      send(res, response);
    } catch (err) {
      send(res, { status: 500, json: { errcode: -1, errmsg: `sandbox error: ${(err as Error).message}` } });
    }
  }
}

/** Listen on `port` (0: a free one) and resolve the port. Also used by the payment listener. */
export async function listenOn(server: http.Server, port: number, host: string): Promise<number> {
  // Node's http.Agent drops a socket whose server hints `Keep-Alive: timeout=1` (it keeps hint - 1 s), so a short
  // value here would silently turn off the client's keep-alive; closeServer() ends idle sockets itself.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Stop accepting and end every connection, idle or not, so close() never waits on a client's keep-alive. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function readBody(req: http.IncomingMessage, maxBytes = 5 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.destroy();
        reject(new Error('body too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, r: SandboxResponse): void {
  if (res.headersSent || res.destroyed) return;
  if (r.redirect) {
    res.writeHead(302, { Location: r.redirect, ...r.headers });
    res.end();
    return;
  }
  if (r.json !== undefined) {
    res.writeHead(r.status ?? 200, { 'Content-Type': 'application/json; charset=utf-8', ...r.headers });
    res.end(JSON.stringify(r.json));
    return;
  }
  res.writeHead(r.status ?? 200, { 'Content-Type': 'text/plain; charset=utf-8', ...r.headers });
  res.end(r.body ?? '');
}
