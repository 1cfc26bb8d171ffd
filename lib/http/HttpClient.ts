/**
 * The only code in the SDK that talks to WeChat. Features and the credential engine call `request()`; they never
 * touch axios. Responsibilities: base URL, timeouts, keep-alive, proxy, guarded JSON parsing, errcode → typed
 * error, and a bounded retry for failures that are safe to repeat.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosProxyConfig, type AxiosResponse } from 'axios';
import createDebug from 'debug';
import { ConfigError, WechatApiError, WechatError, WechatTransportError } from '../errors';
import { redactUrl } from '../redact';

const log = createDebug('wechat:http');

export const DEFAULT_API_URL = 'https://api.weixin.qq.com';
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Total attempts for a retryable failure (first try included). */
export const MAX_ATTEMPTS = 3;
/** First backoff step; doubles each attempt, plus up to 100% jitter. */
export const RETRY_BASE_DELAY_MS = 100;

export interface HttpClientOptions {
  /** Base URL replacing https://api.weixin.qq.com (the sandbox, or a forward proxy). */
  apiUrl?: string;
  timeout?: number;
  /** axios proxy settings; `false` disables environment proxies. */
  proxy?: AxiosProxyConfig | false;
  /** appId attached to errors so multi-app servers know which app failed. */
  appId?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST';
  /** A path below the base URL (`/cgi-bin/token`) or an absolute URL (overrides such as `accessTokenUrl`). */
  path: string;
  query?: Query;
  /** JSON-serialised unless it is a string or Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to repeat: retried on errcode -1, network errors and HTTP 5xx. */
  idempotent?: boolean;
  /** `json` (default): parse and check errcode. `text`/`buffer`: return the body as is (payment XML, bills). */
  responseType?: 'json' | 'text' | 'buffer';
  /** Per-call agent, e.g. one holding a payment client certificate. */
  httpsAgent?: https.Agent;
  timeout?: number;
  /** Name used in errors and logs instead of the URL path. */
  label?: string;
  /** appId reported on errors for this call when it is not the client's own app (e.g. the open-platform app). */
  appId?: string;
}

export interface RawResponse<T> {
  status: number;
  headers: Record<string, string>;
  data: T;
}

export function validateBaseUrl(option: string, value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(option, `"${value}" is not a URL; expected e.g. ${DEFAULT_API_URL}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(option, `must be an http or https URL, got "${parsed.protocol}"`);
  }
  return value.replace(/\/+$/, '');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class HttpClient {
  readonly apiUrl: string;
  readonly appId?: string;
  private readonly timeout: number;
  private readonly axios: AxiosInstance;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });
  /** After close() nothing is sent or retried: a retry would open a new socket and keep the process alive. */
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.apiUrl = validateBaseUrl('apiUrl', options.apiUrl ?? DEFAULT_API_URL);
    if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
      throw new ConfigError('timeout', 'must be a positive number of milliseconds');
    }
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.appId = options.appId;
    this.axios = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: options.proxy,
      // We parse ourselves so a non-JSON body becomes a typed error instead of a string slipping through.
      responseType: 'arraybuffer',
      transformResponse: [(data) => data],
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  /** GET/POST expecting WeChat's JSON; resolves the parsed body, rejects with a WechatError. */
  async request<T = Record<string, unknown>>(options: RequestOptions): Promise<T> {
    return (await this.requestRaw<T>(options)).data;
  }

  get<T = Record<string, unknown>>(path: string, query?: Query, extra: Partial<RequestOptions> = {}): Promise<T> {
    return this.request<T>({ idempotent: true, ...extra, method: 'GET', path, query });
  }

  post<T = Record<string, unknown>>(
    path: string,
    body: unknown,
    query?: Query,
    extra: Partial<RequestOptions> = {},
  ): Promise<T> {
    return this.request<T>({ ...extra, method: 'POST', path, body, query });
  }

  async requestRaw<T>(options: RequestOptions): Promise<RawResponse<T>> {
    const attempts = options.idempotent ? MAX_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw this.closedError(options);
      try {
        return await this.once<T>(options);
      } catch (err) {
        // close() destroyed the socket under this request: say so instead of a network error.
        if (this.closed) throw this.closedError(options);
        if (attempt >= attempts || !isRetryable(err)) throw err;
        const delay = RETRY_BASE_DELAY_MS * 2 ** (attempt - 1) * (1 + Math.random());
        log(
          'retry %s after %dms (attempt %d): %s',
          options.label ?? options.path,
          Math.round(delay),
          attempt,
          (err as Error).message,
        );
        await sleep(delay);
      }
    }
  }

  /** Release keep-alive sockets so the process can exit. */
  close(): void {
    this.closed = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private closedError(options: RequestOptions): WechatError {
    return new WechatError(`WeChat ${options.label ?? options.path}: the SDK was closed`, 'CLOSED');
  }

  private url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.apiUrl}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  private async once<T>(options: RequestOptions): Promise<RawResponse<T>> {
    const url = this.url(options.path);
    const label = options.label ?? new URL(url).pathname;
    const query = options.query
      ? Object.fromEntries(Object.entries(options.query).filter(([, v]) => v !== undefined))
      : undefined;
    // What the log shows: the path and the query with secret parameters (secret, access_token, js_code...) redacted.
    // Built only when wechat:http logging is on.
    const shown = !log.enabled
      ? label
      : redactUrl(
          query && Object.keys(query).length
            ? `${label}?${new URLSearchParams(query as Record<string, string>)}`
            : label,
        );
    const timeout = options.timeout ?? this.timeout;
    const started = Date.now();
    let res: AxiosResponse<Buffer>;
    try {
      res = await this.axios.request<Buffer>({
        method: options.method ?? 'GET',
        url,
        params: query,
        data:
          options.body === undefined || typeof options.body === 'string' || Buffer.isBuffer(options.body)
            ? options.body
            : JSON.stringify(options.body),
        headers: {
          ...(options.body !== undefined && typeof options.body !== 'string' && !Buffer.isBuffer(options.body)
            ? { 'Content-Type': 'application/json' }
            : {}),
          ...options.headers,
        },
        timeout,
        // `timeout` above is a socket-idle timeout; the signal bounds the whole exchange (a server that trickles).
        signal: AbortSignal.timeout(timeout + 50),
        httpsAgent: options.httpsAgent,
      });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const what =
        e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' || e.code === 'ERR_CANCELED'
          ? `timed out after ${timeout}ms`
          : `network error ${e.code ?? ''}`.trim();
      log('%s %s %s', options.method ?? 'GET', shown, what);
      throw new WechatTransportError(`WeChat ${label}: ${what}`, label, undefined, { cause: safeCause(err) });
    }
    log('%s %s -> %d in %dms', options.method ?? 'GET', shown, res.status, Date.now() - started);
    const headers = Object.fromEntries(
      Object.entries(res.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    ) as Record<string, string>;
    const raw = Buffer.from(res.data ?? []);
    if (res.status >= 500) {
      throw new WechatTransportError(`WeChat ${label}: HTTP ${res.status}`, label, res.status);
    }
    if (options.responseType === 'buffer') return { status: res.status, headers, data: raw as T };
    const text = raw.toString('utf8');
    if (options.responseType === 'text') return { status: res.status, headers, data: text as T };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      const kind = /^\s*</.test(text) ? 'an HTML/XML page' : 'a body that is not JSON';
      throw new WechatTransportError(`WeChat ${label}: HTTP ${res.status} returned ${kind}`, label, res.status);
    }
    if (body === null || typeof body !== 'object') {
      throw new WechatTransportError(
        `WeChat ${label}: HTTP ${res.status} returned a JSON ${typeof body}`,
        label,
        res.status,
      );
    }
    const errcode = (body as { errcode?: unknown }).errcode;
    if (errcode !== undefined && errcode !== null && Number(errcode) !== 0) {
      throw new WechatApiError({
        errcode: Number(errcode),
        errmsg: String((body as { errmsg?: unknown }).errmsg ?? ''),
        path: label,
        appId: options.appId ?? this.appId,
      });
    }
    if (res.status >= 400) {
      throw new WechatTransportError(`WeChat ${label}: HTTP ${res.status}`, label, res.status);
    }
    return { status: res.status, headers, data: body as T };
  }
}

function isRetryable(err: unknown): boolean {
  if (err instanceof WechatApiError) return err.errcode === -1;
  // Timeouts and network errors (no status) and HTTP 5xx may pass on a second try; a 4xx or an HTML page served
  // with 200 (a captive portal, a misconfigured proxy) will not, so repeating them only delays the error.
  return err instanceof WechatTransportError && (err.status === undefined || err.status >= 500);
}

/**
 * axios errors carry the request config (URL with access_token, body with secrets); keep only what is safe.
 */
function safeCause(err: unknown): Error {
  const e = err as { code?: string; name?: string };
  const safe = new Error(e.code ?? e.name ?? 'request failed');
  safe.name = e.name ?? 'Error';
  return safe;
}
