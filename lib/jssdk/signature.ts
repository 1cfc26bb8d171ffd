/** Pure JS-SDK signing (appendix 1 of WeChat's JS-SDK documentation). */
import { sha1 } from '../crypto';

export interface JsapiSignInput {
  ticket: string;
  nonceStr: string;
  timestamp: string | number;
  /** The page URL without `#...`, exactly as the browser reports it. */
  url: string;
}

/** sha1 of `jsapi_ticket=...&noncestr=...&timestamp=...&url=...` (keys in ASCII order, values raw). */
export function signJsapiTicket({ ticket, nonceStr, timestamp, url }: JsapiSignInput): string {
  return sha1(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`);
}
