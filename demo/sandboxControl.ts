/**
 * The demo asks the sandbox for what a phone would produce (a wx.login code, wx.getUserInfo data, a phone grant, a
 * card's encrypt_code) through its HTTP control endpoints (`POST /__sandbox/...`), as a separate process would:
 * the pages then hand those values to the SDK exactly as a real server gets them from a mini program or a card.
 */

/** POST a JSON body to a sandbox control endpoint and resolve its JSON answer. */
export async function sandboxControl<T>(sandboxUrl: string, path: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${sandboxUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as T & { errmsg?: string };
  // Control endpoints answer 400 with a plain reason (unknown user, no session yet...): never a secret.
  if (!res.ok) throw new Error(`sandbox ${path}: ${json.errmsg ?? `HTTP ${res.status}`}`);
  return json;
}
