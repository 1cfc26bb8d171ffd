/**
 * Raw HTTP calls to the sandbox for its own tests: the sandbox is tested as a WeChat server, so these use plain
 * fetch and return WeChat's JSON as is (errcode included) instead of going through the SDK's HttpClient.
 */
import type { Sandbox } from '../../lib/sandbox';

// WeChat's answers are loosely typed JSON; tests read the fields they check.
export type Body = Record<string, any>;

export async function getJson(sandbox: Sandbox, path: string, query: Record<string, string> = {}): Promise<Body> {
  const res = await fetch(`${sandbox.url}${path}?${new URLSearchParams(query)}`);
  return (await res.json()) as Body;
}

export async function postJson(sandbox: Sandbox, path: string, body: unknown): Promise<Body> {
  const res = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return (await res.json()) as Body;
}

/** A GET that does not follow redirects (to read a consent page's Location header). */
export async function getRaw(sandbox: Sandbox, pathAndQuery: string): Promise<Response> {
  return fetch(pathAndQuery.startsWith('http') ? pathAndQuery : `${sandbox.url}${pathAndQuery}`, {
    redirect: 'manual',
  });
}

/** WeChat's errcode of a body: 0 when it succeeded. */
export const errcode = (body: Body): number => Number(body.errcode ?? 0);
