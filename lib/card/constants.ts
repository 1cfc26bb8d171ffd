/** Card constants with wechat-jssdk 5.x's names (also available as `Card.CODE_TYPE` / `Card.CARD_TYPE`). */

/** How a card's code is shown to the user (`code_type` when creating a card). */
export const CODE_TYPE = {
  CODE_TYPE_QRCODE: 'CODE_TYPE_QRCODE',
  CODE_TYPE_BARCODE: 'CODE_TYPE_BARCODE',
  CODE_TYPE_ONLY_QRCODE: 'CODE_TYPE_ONLY_QRCODE',
  CODE_TYPE_TEXT: 'CODE_TYPE_TEXT',
  CODE_TYPE_NONE: 'CODE_TYPE_NONE',
} as const;

/** Card types (`card_type`), e.g. to filter wx.chooseCard. */
export const CARD_TYPE = {
  GROUPON: 'GROUPON',
  CASH: 'CASH',
  DISCOUNT: 'DISCOUNT',
  GIFT: 'GIFT',
  GENERAL_COUPON: 'GENERAL_COUPON',
  MEMBER_CARD: 'MEMBER_CARD',
} as const;

export type CodeType = (typeof CODE_TYPE)[keyof typeof CODE_TYPE];
export type CardType = (typeof CARD_TYPE)[keyof typeof CARD_TYPE];
