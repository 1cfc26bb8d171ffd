/** WeChat Pay: API v2 (`Payment`, `wx.payment`) and API v3 (`PaymentV3`, `wx.paymentV3`). See wiki/Payment.md. */
export { Payment, PAYMENT_PATHS, type PaymentResult, type DownloadResult } from './v2/Payment';
export { SIGN_TYPE, signPayment, verifyPayment, paymentSignString, type SignType } from './v2/sign';
export { buildXML, parseXML, XmlError } from './v2/xml';
export { decryptReqInfo } from './v2/crypto';
export { assertFen, yuanToFen, fenToYuan, formatFen, formatCurrency } from './amounts';
export {
  PaymentV3,
  type V3Order,
  type V3JsapiOrder,
  type V3H5Order,
  type V3RefundRequest,
  type V3PayParams,
  type V3Notification,
} from './v3/PaymentV3';
export {
  buildAuthorization,
  parseAuthorization,
  verifySignedMessage,
  jsapiPaySign,
  rsaSign,
  rsaVerify,
  AUTH_SCHEMA,
  SIGNATURE_WINDOW_MS,
} from './v3/sign';
export { decryptResource, encryptResource, type EncryptedResource } from './v3/crypto';
export { type PlatformCertificate, CERT_REFRESH_MS } from './v3/certificates';
export { type PaymentOptions, type PaymentV3Options } from './config';
