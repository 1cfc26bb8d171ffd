/**
 * Real servers shared by the test run. Each service module starts what it needs (or reuses what the machine
 * runs) and stops only what it started. Services register here; issue #4 adds Redis and the Mongo wire server.
 */
import { mongoService } from './mongo';
import { redisService } from './redis';

type Service = { start(): Promise<void>; stop(): Promise<void> };

const services: Service[] = [redisService, mongoService];

export async function startServices(): Promise<void> {
  for (const service of services) await service.start();
}

export async function stopServices(): Promise<void> {
  for (const service of [...services].reverse()) await service.stop().catch((err) => console.warn(String(err)));
}
