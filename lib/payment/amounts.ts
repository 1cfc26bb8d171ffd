/**
 * Money. WeChat Pay (v2 `total_fee`/`refund_fee`, v3 `amount.total`/`amount.refund`) takes integers in fen
 * (1 yuan = 100 fen). Floating point yuan (0.1 + 0.2) must never reach a payment, so conversions work on the
 * decimal text, and every amount is checked BEFORE a request is sent: a wrong amount is refused locally with a
 * clear error instead of being charged, rounded, or rejected by WeChat after a round trip.
 */
import { WechatError } from '../errors';

export const FEN_PER_YUAN = 100;

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return typeof value;
}

function badAmount(message: string): WechatError {
  return new WechatError(message, 'BAD_AMOUNT');
}

/**
 * The amount as a number of fen, or a `WechatError` (code `BAD_AMOUNT`) naming the field. Accepts a positive
 * safe integer, or a string of digits when `allowDigits` (v2 XML carries amounts as text; v3 JSON needs numbers).
 */
export function assertFen(value: unknown, field: string, allowDigits = true): number {
  const n = allowDigits && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw badAmount(
      `${field} must be a positive integer number of fen (1 yuan = 100 fen), got ${describe(value)}; ` +
        'convert yuan with yuanToFen()',
    );
  }
  return n;
}

interface Decimal {
  negative: boolean;
  int: string;
  frac: string;
}

/** Split a decimal number (number or text, no exponent) into its digits, without going through a float. */
function parseDecimal(value: number | string, what: string): Decimal {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badAmount(`${what} must be a finite number, got ${describe(value)}`);
    // toString of a double gives the shortest text that reads back to the same double: 10.12 -> "10.12".
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw badAmount(`${what} must be a number or a decimal string, got ${describe(value)}`);
  }
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) {
    throw badAmount(`${what} is not a plain decimal amount: ${describe(value)}`);
  }
  return { negative: match[1] === '-', int: match[2] || '0', frac: match[3] ?? '' };
}

/**
 * Yuan to fen, exactly: `yuanToFen('10.12') === 1012`, `yuanToFen(0.1) === 10`. More than two decimal places is
 * refused (`10.123`), because silently rounding money hides bugs (the reference library rounded).
 */
export function yuanToFen(yuan: number | string): number {
  const d = parseDecimal(yuan, 'yuan');
  const frac = d.frac.replace(/0+$/, '');
  if (frac.length > 2) {
    throw badAmount(`${describe(yuan)} yuan has more than 2 decimal places; WeChat Pay amounts are whole fen`);
  }
  const fen = Number(d.int) * FEN_PER_YUAN + Number(frac.padEnd(2, '0'));
  if (!Number.isSafeInteger(fen)) throw badAmount(`${describe(yuan)} yuan is too large`);
  return d.negative && fen !== 0 ? -fen : fen;
}

/** Fen to yuan as a number (`1012` -> `10.12`); the fen must be an integer. */
export function fenToYuan(fen: number | string): number {
  return Number(formatFen(fen));
}

/** Fen as a yuan string with two decimals (`1012` -> `"10.12"`, `5` -> `"0.05"`), computed on integers. */
export function formatFen(fen: number | string): string {
  const n = typeof fen === 'string' && /^-?\d+$/.test(fen.trim()) ? Number(fen) : fen;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw badAmount(`fen must be an integer, got ${describe(fen)}`);
  }
  const abs = Math.abs(n);
  return `${n < 0 ? '-' : ''}${Math.floor(abs / FEN_PER_YUAN)}.${String(abs % FEN_PER_YUAN).padStart(2, '0')}`;
}

/**
 * A yuan amount for display with two decimals, rounding half up on the decimal text (`10.125` -> `"10.13"`).
 * For display only: amounts sent to WeChat go through yuanToFen, which refuses extra decimals.
 */
export function formatCurrency(yuan: number | string): string {
  const d = parseDecimal(yuan, 'yuan');
  const frac = d.frac.padEnd(3, '0');
  let fen = Number(d.int) * FEN_PER_YUAN + Number(frac.slice(0, 2));
  if (Number(frac[2]) >= 5) fen += 1;
  return formatFen(d.negative && fen !== 0 ? -fen : fen);
}
