/** The page shell shared by every demo page: navigation, styles, and the bilingual explanation blocks. */

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON for a <script type="application/json"> block (no `</script>` breakout). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export interface NavItem {
  path: string;
  label: string;
}

/** The menu; feature pages (mini program, cards, payment) are added by their own issues. */
export const NAV: NavItem[] = [
  { path: '/', label: 'Home 首页' },
  { path: '/jssdk', label: 'JS-SDK' },
  { path: '/oauth', label: 'Login 登录' },
  { path: '/miniprogram', label: 'Mini program 小程序' },
  { path: '/cards', label: 'Cards 卡券' },
  { path: '/payment', label: 'Payment 支付' },
];

/** An explanation in English and Chinese, side by side on wide screens. */
export function explain(en: string, zh: string): string {
  return `<div class="explain"><p lang="en">${en}</p><p lang="zh-CN">${zh}</p></div>`;
}

export interface PageOptions {
  title: string;
  /** Path of the current page (highlighted in the menu). */
  path: string;
  body: string;
  /** Banner text about the mode (sandbox or WeChat). */
  mode: string;
  scripts?: string;
}

export function page({ title, path, body, mode, scripts = '' }: PageOptions): string {
  const nav = NAV.map(
    (item) =>
      `<a href="${item.path}"${item.path === path || (item.path !== '/' && path.startsWith(item.path)) ? ' class="active"' : ''}>${escapeHtml(item.label)}</a>`,
  ).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · wechat-jssdk-ts demo</title>
<style>
  :root { --green: #07c160; --red: #d93025; --grey: #f5f6f7; --text: #1f2328; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.55 -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: var(--text); }
  header { background: #2e3238; color: #fff; padding: .6em 1em; }
  header b { margin-right: 1em; }
  nav { display: flex; flex-wrap: wrap; gap: .3em; margin-top: .4em; }
  nav a { color: #cfd3d8; text-decoration: none; padding: .2em .6em; border-radius: 4px; }
  nav a.active, nav a:hover { background: var(--green); color: #fff; }
  .mode { font-size: .85em; background: #fff3cd; color: #664d03; padding: .4em 1em; }
  main { max-width: 860px; margin: 0 auto; padding: 1em; }
  h1 { font-size: 1.5em; margin: .4em 0; }
  h2 { font-size: 1.15em; margin: 1.4em 0 .4em; }
  .explain { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; background: var(--grey); padding: .6em 1em; border-radius: 6px; }
  .explain p { margin: .3em 0; }
  @media (max-width: 640px) { .explain { grid-template-columns: 1fr; } }
  .status { font-size: 1.2em; font-weight: 600; padding: .6em 1em; border-radius: 6px; margin: .6em 0; }
  .status[data-state="pending"] { background: #e8f0fe; color: #174ea6; }
  .status[data-state="signed"], .status[data-state="ok"] { background: #e6f4ea; color: #137333; }
  .status[data-state="failed"] { background: #fce8e6; color: var(--red); }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: .3em .5em; border-bottom: 1px solid #e3e5e8; vertical-align: top; }
  th { width: 12em; font-weight: 600; color: #57606a; }
  code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
  .button { display: inline-block; background: var(--green); color: #fff; border: 0; border-radius: 6px; padding: .6em 1em; margin: .2em .4em .2em 0; font-size: 1em; text-decoration: none; cursor: pointer; }
  .button.secondary { background: #57606a; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .8em; }
  .card { border: 1px solid #e3e5e8; border-radius: 8px; padding: .8em 1em; }
  .card h3 { margin: .1em 0 .3em; font-size: 1.05em; }
  .muted { color: #57606a; font-size: .9em; }
  ol.log { font-size: .85em; color: #57606a; padding-left: 1.4em; }
  .avatar { width: 64px; height: 64px; border-radius: 8px; background: var(--green); color: #fff; display: inline-flex; align-items: center; justify-content: center; font-size: 28px; }
</style></head>
<body>
<header><b>wechat-jssdk-ts demo</b><nav>${nav}</nav></header>
<div class="mode">${mode}</div>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
${scripts}
</body></html>`;
}
