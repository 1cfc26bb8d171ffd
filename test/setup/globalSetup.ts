/**
 * Jest global setup: starts the shared real servers the suites need (see services.ts) and publishes their
 * addresses through environment variables, so that every worker process can reach them.
 */
import { startServices } from './services';

export default async function globalSetup(): Promise<void> {
  await startServices();
}
