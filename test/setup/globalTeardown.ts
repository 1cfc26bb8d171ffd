import { stopServices } from './services';

export default async function globalTeardown(): Promise<void> {
  await stopServices();
}
