/**
 * One small interface over the two Redis drivers people already use: node-redis (v4 and later) and ioredis. The
 * store only sends raw commands, so it does not depend on either driver's typed command API, and neither driver is
 * loaded unless a store creates a client from a URL (both are optional peer dependencies).
 */
import createDebug from 'debug';
import { ConfigError } from '../errors';

const log = createDebug('wechat:store:redis');

/** A node-redis client (`createClient()` from `redis` v4+). */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
  readonly isReady: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
}

/** An ioredis client (`new Redis()`). */
export interface IORedisLike {
  call(command: string, ...args: any[]): Promise<unknown>;
  readonly status: string;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
}

export type RedisClientLike = NodeRedisLike | IORedisLike;

export interface RedisCommander {
  readonly driver: 'node-redis' | 'ioredis';
  send(args: Array<string | number>): Promise<unknown>;
  isReady(): boolean;
  /** Call `listener` each time the client (re)connects; returns an unsubscribe function. */
  onReady(listener: () => void): () => void;
  /** Close the client (only used for clients the store created). */
  close(): Promise<void>;
}

function isIORedis(client: unknown): client is IORedisLike {
  return typeof (client as IORedisLike)?.call === 'function' && typeof (client as IORedisLike).status === 'string';
}

function isNodeRedis(client: unknown): client is NodeRedisLike {
  return typeof (client as NodeRedisLike)?.sendCommand === 'function' && 'isReady' in (client as object);
}

export function isRedisClient(client: unknown): client is RedisClientLike {
  return isIORedis(client) || isNodeRedis(client);
}

export function wrapRedisClient(client: RedisClientLike): RedisCommander {
  const onReady = (listener: () => void) => {
    client.on('ready', listener);
    return () => void client.off?.('ready', listener);
  };
  if (isIORedis(client)) {
    const c = client as IORedisLike & { quit?(): Promise<unknown>; disconnect?(): void };
    return {
      driver: 'ioredis',
      send: ([command, ...args]) => c.call(String(command), ...args.map(String)),
      isReady: () => c.status === 'ready',
      onReady,
      close: async () => {
        if (c.status === 'ready' && c.quit) await c.quit();
        else c.disconnect?.();
      },
    };
  }
  if (isNodeRedis(client)) {
    const c = client as NodeRedisLike & {
      isOpen?: boolean;
      close?(): Promise<void>;
      quit?(): Promise<unknown>;
      destroy?(): void;
      disconnect?(): Promise<void>;
    };
    return {
      driver: 'node-redis',
      send: (args) => c.sendCommand(args.map(String)),
      isReady: () => c.isReady,
      onReady,
      close: async () => {
        // Graceful when connected (pending replies arrive).
        if (c.isReady) return void (await (c.close ? c.close() : c.quit?.()));
        if (!c.isOpen) return;
        // Still connecting: drop it. A connection attempt already under way can still complete after destroy()
        // (seen with node-redis 6), so close it again if it does.
        const drop = () => (c.destroy ? c.destroy() : void c.disconnect?.().catch(() => undefined));
        c.on('ready', () => {
          if (c.isReady) drop();
        });
        drop();
      },
    };
  }
  throw new ConfigError('client', 'must be a node-redis client (createClient() from "redis") or an ioredis client');
}

export interface CreateRedisOptions {
  url: string;
  /** Which driver to load; default: `redis` when installed, otherwise `ioredis`. */
  driver?: 'redis' | 'ioredis';
  connectTimeoutMs: number;
  /** Extra options for the driver's constructor. */
  clientOptions?: Record<string, unknown>;
}

/** Reconnect quickly at first, then every 2 s at most, forever (the store fails fast meanwhile). */
const backoff = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), 2_000);

/** Loaded only here, so users of other stores never need (or load) a Redis driver. */
function loadDriver(name: 'redis' | 'ioredis'): Promise<any> {
  return name === 'redis' ? import('redis') : import('ioredis');
}

/**
 * A client for `url`, configured so that nothing queues while Redis is away (commands fail at once and the store
 * reports degraded mode) and reconnection goes on in the background.
 */
export async function createRedisClient(
  options: CreateRedisOptions,
): Promise<{ client: RedisClientLike; commander: RedisCommander }> {
  const order: Array<'redis' | 'ioredis'> = options.driver ? [options.driver] : ['redis', 'ioredis'];
  let lastError: unknown;
  for (const name of order) {
    let driver: any;
    try {
      driver = await loadDriver(name);
    } catch (err) {
      lastError = err;
      continue;
    }
    let client: RedisClientLike;
    if (name === 'redis') {
      const nodeRedis = driver.createClient({
        url: options.url,
        disableOfflineQueue: true,
        ...options.clientOptions,
        socket: {
          connectTimeout: options.connectTimeoutMs,
          reconnectStrategy: backoff,
          ...(options.clientOptions?.socket as object | undefined),
        },
      });
      // Connection errors are expected while Redis is away; without a listener they would crash the process.
      nodeRedis.on('error', (err: Error) => log('redis connection: %s', err.message));
      nodeRedis.connect().catch((err: Error) => log('redis connect: %s', err.message));
      client = nodeRedis;
    } else {
      const IORedis = driver.default ?? driver.Redis ?? driver;
      const ioredis = new IORedis(options.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: options.connectTimeoutMs,
        retryStrategy: backoff,
        ...options.clientOptions,
      });
      ioredis.on('error', (err: Error) => log('ioredis connection: %s', err.message));
      client = ioredis;
    }
    return { client, commander: wrapRedisClient(client) };
  }
  throw new ConfigError(
    'url',
    `RedisStore needs a Redis driver to connect to a URL: npm install redis (or ioredis)${lastError ? ` (${(lastError as Error).message.split('\n')[0]})` : ''}`,
  );
}
