/**
 * A cluster of Node processes sharing one store (test/store/cluster-worker.ts), for the cluster tests and the
 * benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerConfig } from './cluster-worker';

const WORKER = path.join(__dirname, 'cluster-worker.ts');

export class Cluster {
  private constructor(private readonly workers: ChildProcess[]) {}

  static async start(size: number, config: WorkerConfig): Promise<Cluster> {
    const workers = Array.from({ length: size }, () =>
      fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        cwd: path.resolve(__dirname, '../..'),
      }),
    );
    const cluster = new Cluster(workers);
    await cluster.all({ cmd: 'init', config });
    return cluster;
  }

  /** Send `message` to every worker at once; resolves with their answers. */
  all<T = Record<string, any>>(message: object, timeoutMs = 60_000): Promise<T[]> {
    return Promise.all(this.workers.map((worker) => ask<T>(worker, message, timeoutMs)));
  }

  /** Ask the workers to close cleanly; kills those that do not answer. */
  async close(): Promise<Array<{ refreshErrors: string[]; unhandled: string[] }>> {
    const answers = await Promise.all(
      this.workers.map((worker) =>
        ask<{ refreshErrors: string[]; unhandled: string[] }>(worker, { cmd: 'close' }, 20_000).catch(() => null),
      ),
    );
    for (const worker of this.workers) {
      if (worker.exitCode === null && worker.signalCode === null) {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        if (!worker.connected) worker.kill();
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
        if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      }
    }
    return answers.filter((a): a is { refreshErrors: string[]; unhandled: string[] } => a !== null);
  }
}

function ask<T>(worker: ChildProcess, message: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`worker ${worker.pid} did not answer ${JSON.stringify(message).slice(0, 80)}`)),
      timeoutMs,
    );
    const onMessage = (answer: T & { failed?: string }) =>
      answer.failed ? done(new Error(answer.failed)) : done(undefined, answer);
    const onExit = (code: number | null) => done(new Error(`worker ${worker.pid} exited (${code})`));
    function done(err?: Error, answer?: T) {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (err) reject(err);
      else resolve(answer as T);
    }
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.send(message);
  });
}
