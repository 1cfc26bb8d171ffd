/**
 * What every browser test of the demo needs: the demo on a free port against its in-process sandbox (data in a
 * temp folder), and headless Chromium from Debian's package driven by playwright-core (browser downloads are
 * impossible here). A missing Chromium is a failure with a clear message, never a skip.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { startDemo, type Demo } from '../../demo/app';
import { tempDir } from '../helpers';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');

export interface BrowserDemo {
  browser: Browser;
  demo: Demo;
  /** http://127.0.0.1:<port> of the demo. */
  base: string;
  /** A page in a new browser context (closed by close()). */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** A full-page screenshot into test-artifacts/. */
  shot(page: Page, name: string): Promise<Buffer>;
  close(): Promise<void>;
}

export async function startBrowserDemo(tempPrefix: string): Promise<BrowserDemo> {
  if (!existsSync(CHROMIUM)) {
    // CI installs it (.ci/run); locally `apt-get install -y chromium`.
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) ` +
        'or set CHROMIUM_PATH. The browser test cannot run without it.',
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const data = tempDir(tempPrefix);
  const demo = await startDemo({ env: {}, port: 0, host: '127.0.0.1', dataDir: data.dir });
  const base = `http://127.0.0.1:${(demo.server.address() as { port: number }).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    demo,
    base,
    async newPage(options) {
      const context = await browser.newContext(options);
      contexts.push(context);
      return context.newPage();
    },
    shot: (page, name) => page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true }),
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await demo.close();
      data.cleanup();
    },
  };
}
