/**
 * Pages for the features still being built. Each issue replaces its entry here with a real page module
 * (demo/pages/<feature>.ts) registered in demo/app.ts.
 */
import type { Express } from 'express';
import type { DemoContext } from '../context';
import { explain, page } from '../layout';

interface Placeholder {
  path: string;
  title: string;
  en: string;
  zh: string;
}

// Empty now: mini program, cards and payment have their own pages. New features start here.
const PLACEHOLDERS: Placeholder[] = [];

export function placeholderPages(app: Express, demo: DemoContext): void {
  for (const p of PLACEHOLDERS) {
    app.get(p.path, (_req, res) => {
      const body = `${explain(p.en, p.zh)}<div class="status" data-state="pending">Not built yet 尚未完成</div>`;
      res.send(page({ title: p.title, path: p.path, body, mode: demo.modeBanner }));
    });
  }
}
