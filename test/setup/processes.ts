/**
 * Real server processes for the tests: a `redis-server` and the Mongo wire server (mongo-server.mjs), each on a
 * free port of 127.0.0.1, which a test can stop and start again on the same port (fault tests). Only processes
 * started here are ever stopped, by their own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Send one inline command to a RESP server and return the first reply line (null when nothing answers). */
export function redisInline(port: number, command: string, timeoutMs = 1_000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (value: string | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('error', () => done(null));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.split('\r\n')[0]);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

abstract class ServerProcess {
  protected child?: ChildProcess;

  constructor(readonly port: number) {}

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  protected abstract launch(): ChildProcess;
  protected abstract ready(): Promise<boolean>;

  async start(): Promise<this> {
    if (this.running) return this;
    const child = this.launch();
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const deadline = Date.now() + 15_000;
    while (!(await this.ready())) {
      if (!this.running)
        throw new Error(`${this.constructor.name} on port ${this.port} exited: ${stderr.slice(0, 500)}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.constructor.name} on port ${this.port} did not start: ${stderr.slice(0, 500)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  /** Stop like an administrator would (SIGTERM); `crash` kills it instead. */
  async stop(crash = false): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(crash ? 'SIGKILL' : 'SIGTERM');
    await exited(child);
  }
}

/** A throwaway redis-server: no snapshot, no AOF, so nothing is written to disk. */
export class RedisServer extends ServerProcess {
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    return new RedisServer(await freePort()).start();
  }

  protected launch(): ChildProcess {
    return spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  }

  protected async ready(): Promise<boolean> {
    return (await redisInline(this.port, 'PING', 300)) === '+PONG';
  }
}

export const MONGO_SERVER_SCRIPT = path.join(__dirname, 'mongo-server.mjs');

/** The Mongo wire server in a child process; with `persistFile`, a clean stop and a start keep the data. */
export class MongoWireServer extends ServerProcess {
  constructor(
    port: number,
    private readonly persistFile?: string,
  ) {
    super(port);
  }

  get url(): string {
    return `mongodb://127.0.0.1:${this.port}`;
  }

  static async start(persistFile?: string): Promise<MongoWireServer> {
    return new MongoWireServer(await freePort(), persistFile).start();
  }

  protected launch(): ChildProcess {
    const args = [MONGO_SERVER_SCRIPT, String(this.port), ...(this.persistFile ? [this.persistFile] : [])];
    // An IPC channel: the server exits by itself if this process dies without stopping it.
    return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  }

  protected async ready(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(this.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }
}
