/**
 * Secret scrubbing for anything that may reach a log line or an error message. We redact by field name
 * (query parameters, JSON keys, XML tags) because the values themselves are unpredictable.
 */

/** Names (case-insensitive) whose values are secrets wherever they appear. */
export const SECRET_FIELDS = [
  'secret',
  'appsecret',
  'access_token',
  'accesstoken',
  'ticket',
  'jsapi_ticket',
  'jsapiticket',
  'api_ticket',
  'code',
  'js_code',
  'refresh_token',
  'refreshtoken',
  'session_key',
  'sessionkey',
  'key',
  'paymentkey',
  'apiv3key',
  'sign',
  'paysign',
  'signature',
  'encrypt_code',
  'ciphertext',
  'private_key',
  'privatekey',
] as const;

const names = SECRET_FIELDS.join('|');
// key=value in query strings and form bodies (also at the very start of a form body), and key="value" in
// WeChat Pay v3 Authorization headers (comma-separated, quoted)
const QUERY_RE = new RegExp(`((?:^|[?&;,\\s])(?:${names})=)(?:"[^"]*"|[^&#\\s"']*)`, 'gi');
// "key": "value" in JSON text; an escaped quote inside the value does not end it
const JSON_RE = new RegExp(`("(?:${names})"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*(")`, 'gi');
// <key>value</key> and <key><![CDATA[value]]></key> in XML (WeChat Pay v2)
const XML_RE = new RegExp(`(<(${names})>)(?:<!\\[CDATA\\[[\\s\\S]*?\\]\\]>|[^<]*)(</\\2>)`, 'gi');

export const REDACTED = '[redacted]';

export function redact(text: string): string {
  return text.replace(QUERY_RE, `$1${REDACTED}`).replace(JSON_RE, `$1${REDACTED}$2`).replace(XML_RE, `$1${REDACTED}$3`);
}

/** A URL path plus query with secret parameters redacted, for logs. */
export function redactUrl(url: string): string {
  return redact(url.startsWith('?') || url.startsWith('/') || url.includes('://') ? url : `?${url}`);
}

/** Short, non-reversible fingerprint of a secret so logs can tell two tokens apart without revealing them. */
export function fingerprint(value: string | undefined): string {
  if (!value) return '-';
  let h = 2166136261;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}
