/**
 * The XML of WeChat Pay API v2: one root element (`<xml>`, or `<root>` inside a refund notification's req_info)
 * holding flat fields whose text is plain or CDATA. That is all this parser accepts. It is hand-written on purpose:
 * notifications arrive from the internet, and general XML parsers expand entities, which is how XXE attacks
 * read files and reach internal hosts. Here any DOCTYPE or ENTITY declaration is refused outright, only the five
 * predefined entities and numeric character references are understood, nested elements and duplicate fields are
 * refused (a duplicate could make the signed value differ from the value used), and the size is bounded.
 */
import { WechatError } from '../../errors';

/** Larger bodies are refused before parsing; v2 messages are a few KB. */
export const MAX_XML_LENGTH = 1_000_000;

const NAME = /^[A-Za-z_][\w.-]*$/;

export class XmlError extends WechatError {
  constructor(message: string) {
    super(`WeChat Pay XML refused: ${message}`, 'BAD_XML');
  }
}

function cdata(text: string): string {
  // `]]>` cannot appear inside a CDATA section: close it and reopen after `]]`.
  return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** `{ a: 1, b: 'x' }` -> `<xml><a>1</a><b><![CDATA[x]]></b></xml>`; undefined/null are left out. */
export function buildXML(fields: Record<string, unknown>, root = 'xml'): string {
  if (!NAME.test(root)) throw new XmlError(`"${root}" is not a valid element name`);
  let out = `<${root}>`;
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    if (!NAME.test(name)) throw new XmlError(`"${name}" is not a valid element name`);
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    out += `<${name}>${typeof value === 'number' ? text : cdata(text)}</${name}>`;
  }
  return `${out}</${root}>`;
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(text: string): string {
  return text.replace(/&([^;&\s]{0,16});/g, (whole, ref: string) => {
    if (ref in PREDEFINED) return PREDEFINED[ref];
    const code = /^#x([0-9a-fA-F]{1,6})$/.exec(ref)?.[1] ?? /^#(\d{1,7})$/.exec(ref)?.[1];
    if (code !== undefined) {
      const point = ref[1] === 'x' ? parseInt(code, 16) : parseInt(code, 10);
      if (point > 0 && point <= 0x10ffff) return String.fromCodePoint(point);
    }
    throw new XmlError(`unknown entity reference ${whole} (only &lt; &gt; &amp; &quot; &apos; and &#N; are allowed)`);
  });
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** Skip whitespace and comments. */
  skipMisc(): void {
    for (;;) {
      while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
      if (!this.startsWith('<!--')) return;
      const end = this.text.indexOf('-->', this.pos + 4);
      if (end < 0) throw new XmlError('unterminated comment');
      this.pos = end + 3;
    }
  }

  /** `<name attr="...">` or `<name/>`; attributes are ignored (WeChat Pay sends none). */
  openTag(): { name: string; selfClosing: boolean } {
    const match = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(
      this.text.slice(this.pos, this.pos + 4096),
    );
    if (!match) throw new XmlError(`expected an element at offset ${this.pos}`);
    this.pos += match[0].length;
    return { name: match[1], selfClosing: match[3] === '/' };
  }

  /** Text and CDATA up to `</name>`; any other markup means a nested element. */
  content(name: string): string {
    let out = '';
    const close = `</${name}`;
    for (;;) {
      const lt = this.text.indexOf('<', this.pos);
      if (lt < 0) throw new XmlError(`element <${name}> is not closed`);
      out += decodeText(this.text.slice(this.pos, lt));
      this.pos = lt;
      if (this.startsWith('<![CDATA[')) {
        const end = this.text.indexOf(']]>', this.pos + 9);
        if (end < 0) throw new XmlError('unterminated CDATA section');
        out += this.text.slice(this.pos + 9, end);
        this.pos = end + 3;
      } else if (this.startsWith(close)) {
        const match = /^<\/[A-Za-z_][\w.-]*\s*>/.exec(this.text.slice(this.pos, this.pos + 300));
        if (!match || match[0].slice(2).replace(/\s*>$/, '') !== name) {
          throw new XmlError(`malformed closing tag for <${name}>`);
        }
        this.pos += match[0].length;
        return out;
      } else if (this.startsWith('<!--')) {
        this.skipMisc();
      } else {
        throw new XmlError(`<${name}> contains a nested element; WeChat Pay fields are flat`);
      }
    }
  }
}

/** Parse a flat WeChat Pay message into `{ field: text }`. Throws XmlError (code `BAD_XML`) on anything else. */
export function parseXML(input: string | Buffer): Record<string, string> {
  const text = (Buffer.isBuffer(input) ? input.toString('utf8') : String(input ?? '')).replace(/^\uFEFF/, '');
  if (text.length > MAX_XML_LENGTH) throw new XmlError(`the body is larger than ${MAX_XML_LENGTH} characters`);
  // Checked on the whole text, before any parsing, so no declaration can be interpreted anywhere.
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    throw new XmlError('DOCTYPE and ENTITY declarations are not allowed (XXE protection)');
  }
  const r = new Reader(text);
  r.skipMisc();
  if (r.startsWith('<?xml')) {
    const end = text.indexOf('?>', r.pos);
    if (end < 0) throw new XmlError('unterminated XML declaration');
    r.pos = end + 2;
    r.skipMisc();
  }
  if (r.startsWith('<?') || r.startsWith('<!'))
    throw new XmlError('processing instructions and declarations are not allowed');
  if (!r.startsWith('<')) throw new XmlError('the body is not XML');
  const root = r.openTag();
  const fields: Record<string, string> = Object.create(null);
  if (!root.selfClosing) {
    for (;;) {
      r.skipMisc();
      if (r.startsWith(`</`)) {
        const match = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(text.slice(r.pos, r.pos + 300));
        if (!match || match[1] !== root.name) throw new XmlError(`expected </${root.name}>`);
        r.pos += match[0].length;
        break;
      }
      if (r.pos >= text.length) throw new XmlError(`<${root.name}> is not closed`);
      if (r.startsWith('<![CDATA[') || !r.startsWith('<')) {
        throw new XmlError(`text directly inside <${root.name}>; expected field elements`);
      }
      const field = r.openTag();
      if (Object.prototype.hasOwnProperty.call(fields, field.name)) {
        throw new XmlError(`field <${field.name}> appears twice`);
      }
      fields[field.name] = field.selfClosing ? '' : r.content(field.name);
    }
  }
  r.skipMisc();
  if (r.pos < text.length) throw new XmlError(`unexpected content after </${root.name}>`);
  return { ...fields };
}
