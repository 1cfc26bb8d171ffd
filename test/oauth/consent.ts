/**
 * Drives the sandbox's consent page the way a browser would: GET the authorize URL, pick the test user's Allow
 * link from the HTML, GET it without following the redirect, and read code/state from the Location header.
 */
export interface Callback {
  code: string;
  state: string;
  /** The full URL WeChat redirected the browser to. */
  location: URL;
}

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));

export async function consent(authorizeUrl: string, userId: string): Promise<Callback> {
  const page = await fetch(authorizeUrl);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${html}`);
  const link = new RegExp(`<a class="allow" data-user="${userId}" href="([^"]+)"`).exec(html);
  if (!link) throw new Error(`no Allow link for ${userId} on the consent page`);
  const allow = await fetch(new URL(unescapeHtml(link[1]), authorizeUrl), { redirect: 'manual' });
  await allow.arrayBuffer();
  if (allow.status !== 302) throw new Error(`Allow answered ${allow.status}, expected a 302`);
  const location = new URL(allow.headers.get('location') ?? '');
  return {
    code: location.searchParams.get('code') ?? '',
    state: location.searchParams.get('state') ?? '',
    location,
  };
}

/** Await a promise expected to reject, and return the error (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, any>;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Run a synchronous call expected to throw, and return the error. */
export function thrown(call: () => unknown): Error & Record<string, any> {
  try {
    call();
  } catch (err) {
    return err as Error & Record<string, any>;
  }
  throw new Error('expected an exception, but the call returned');
}
