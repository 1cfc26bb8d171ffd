/**
 * Which URL WeChat checks a page's signature against.
 *
 * WeChat compares the signature with the page URL without its `#hash`. In a single-page app that URL changes
 * with `history.pushState`, and the two platforms disagree on which one counts: iOS WeChat keeps the URL the
 * web view first loaded (the "landing URL") for the page's whole life, Android WeChat uses the current one.
 * Signing the wrong one is the most common cause of `config:invalid signature` in SPAs.
 */

/** `href` without the `#hash` (WeChat never sees the hash). */
export function withoutHash(href: string): string {
  const hash = href.indexOf('#');
  return hash >= 0 ? href.slice(0, hash) : href;
}

/**
 * The URL the document was loaded with. The navigation timing entry keeps it even after `pushState`; when the
 * browser lacks it we fall back to the URL seen when this module was first evaluated.
 */
function documentUrl(): string | undefined {
  if (typeof location === 'undefined') return undefined;
  try {
    const entry = typeof performance !== 'undefined' ? performance.getEntriesByType?.('navigation')[0] : undefined;
    if (entry && typeof entry.name === 'string' && /^https?:/.test(entry.name)) return withoutHash(entry.name);
  } catch {
    // Old web views throw on getEntriesByType; the module-load URL below is good enough there.
  }
  return withoutHash(location.href);
}

const LANDING_URL_AT_LOAD = documentUrl();

/** The first URL of this document, without the hash. */
export function landingUrl(): string {
  return LANDING_URL_AT_LOAD ?? (typeof location === 'undefined' ? '' : withoutHash(location.href));
}

/** iPhone, iPad and iPod (including iPadOS, which reports itself as a Mac with a touch screen). */
export function isIOS(userAgent?: string, maxTouchPoints?: number): boolean {
  const ua = userAgent ?? (typeof navigator === 'undefined' ? '' : navigator.userAgent);
  if (/\b(iPhone|iPad|iPod)\b/i.test(ua)) return true;
  const touch = maxTouchPoints ?? (typeof navigator === 'undefined' ? 0 : navigator.maxTouchPoints);
  return /\bMacintosh\b/.test(ua) && touch > 1;
}

/** The URL to sign now: the landing URL on iOS (or when forced), the current URL otherwise. */
export function urlToSign(options: { useLandingUrl?: boolean; landingUrl?: string } = {}): string {
  const landing = options.landingUrl === undefined ? landingUrl() : withoutHash(options.landingUrl);
  const useLanding = options.useLandingUrl ?? isIOS();
  if (useLanding && landing) return landing;
  return typeof location === 'undefined' ? landing : withoutHash(location.href);
}
