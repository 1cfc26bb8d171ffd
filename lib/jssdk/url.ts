/** Validation of page URLs before signing: strangers must not be able to fill the cache or get odd URLs signed. */
import { WechatError } from '../errors';

export const MAX_URL_LENGTH = 4096;
const HTTP_PREFIX = /^https?:\/\//i;

/**
 * The URL to sign: the page URL without its `#hash`, otherwise exactly as given (WeChat compares it with the
 * page's own `location.href.split('#')[0]`, so we must not re-serialise it). Throws a WechatError naming the problem.
 */
export function normalizeUrl(url: unknown, allowedHosts?: readonly string[]): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new WechatError('url is required: pass the page URL (location.href without the #hash)', 'BAD_URL');
  }
  if (url.length > MAX_URL_LENGTH) {
    throw new WechatError(`url is longer than ${MAX_URL_LENGTH} characters`, 'BAD_URL');
  }
  const hash = url.indexOf('#');
  const withoutHash = hash >= 0 ? url.slice(0, hash) : url;
  // Fast path for signing many new URLs: without a host rule, an http(s):// URL that parses is all we need to
  // know, and URL.canParse costs half of building a URL object. Anything else takes the full check below,
  // which accepts exactly the same URLs and names the problem.
  if (!(allowedHosts && allowedHosts.length > 0) && HTTP_PREFIX.test(withoutHash) && URL.canParse(withoutHash)) {
    return withoutHash;
  }
  let parsed: URL;
  try {
    parsed = new URL(withoutHash);
  } catch {
    throw new WechatError('url is not a valid absolute URL (expected http:// or https://...)', 'BAD_URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new WechatError(`url must use http or https, not ${parsed.protocol.replace(':', '')}`, 'BAD_URL');
  }
  if (allowedHosts && allowedHosts.length > 0 && !hostAllowed(parsed.hostname, allowedHosts)) {
    throw new WechatError(
      `url host ${parsed.hostname} is not in allowedHosts (the JS interface safe domains)`,
      'HOST_NOT_ALLOWED',
    );
  }
  return withoutHash;
}

/** `example.com` matches itself; `.example.com` or `*.example.com` also matches its subdomains. */
export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return allowedHosts.some((entry) => {
    const rule = entry.toLowerCase().replace(/^\*\./, '.');
    if (rule.startsWith('.')) return host.endsWith(rule) || host === rule.slice(1);
    return host === rule;
  });
}
