// Parameters embedded in generated images (docs/APP.md §2.3, src/pipeline/image.c):
// PNG: an iTXt chunk with the keyword "ideogram4" holding the JSON;
// WebP: the "XMP " chunk; JPEG: an APP1 XMP segment — both an XMP packet
// whose <ideogram4:json> element holds the XML-escaped JSON.

export interface ImageMeta {
  caption?: string;
  seed?: number;
  preset?: string;
  steps?: number;
  resolution?: [number, number];
  format?: string;
  loras?: { name: string; strength: number }[];
  engine?: string;
  batch?: { index: number; count: number };
  caption_omitted?: boolean;
  [key: string]: unknown;
}

const latin1 = (b: Uint8Array) => { let s = ''; for (const c of b) s += String.fromCharCode(c); return s; };
const utf8 = (b: Uint8Array) => new TextDecoder('utf-8').decode(b);

function u32be(b: Uint8Array, o: number) {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}
function u32le(b: Uint8Array, o: number) {
  return b[o] + (b[o + 1] << 8) + (b[o + 2] << 16) + ((b[o + 3] << 24) >>> 0);
}

/** The text of an uncompressed iTXt (or tEXt) chunk named `keyword`, or null. */
export function pngText(b: Uint8Array, keyword: string): string | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 8 || sig.some((v, i) => b[i] !== v)) return null;
  let o = 8;
  while (o + 8 <= b.length) {
    const len = u32be(b, o);
    const type = latin1(b.subarray(o + 4, o + 8));
    const data = b.subarray(o + 8, Math.min(b.length, o + 8 + len));
    if (type === 'iTXt' || type === 'tEXt') {
      const z = data.indexOf(0);
      if (z > 0 && latin1(data.subarray(0, z)) === keyword) {
        if (type === 'tEXt') return latin1(data.subarray(z + 1));
        const compressed = data[z + 1];
        if (compressed) return null; // this engine never compresses it
        // keyword \0 flag method language \0 translated \0 text
        let p = z + 3;
        p = data.indexOf(0, p) + 1; // after the language tag
        if (p <= 0) return null;
        p = data.indexOf(0, p) + 1; // after the translated keyword
        if (p <= 0) return null;
        return utf8(data.subarray(p));
      }
    }
    if (type === 'IEND') break;
    o += 12 + len;
  }
  return null;
}

/** The XMP packet of a WebP file (the "XMP " chunk), or null. */
export function webpXmp(b: Uint8Array): string | null {
  if (b.length < 12 || latin1(b.subarray(0, 4)) !== 'RIFF' || latin1(b.subarray(8, 12)) !== 'WEBP') return null;
  let o = 12;
  while (o + 8 <= b.length) {
    const type = latin1(b.subarray(o, o + 4));
    const len = u32le(b, o + 4);
    if (type === 'XMP ') return utf8(b.subarray(o + 8, Math.min(b.length, o + 8 + len)));
    o += 8 + len + (len & 1);
  }
  return null;
}

const XMP_HEADER = 'http://ns.adobe.com/xap/1.0/\0';

/** The XMP packet of a JPEG file (an APP1 segment with the XMP namespace header), or null. */
export function jpegXmp(b: Uint8Array): string | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let o = 2;
  while (o + 4 <= b.length && b[o] === 0xff) {
    const marker = b[o + 1];
    if (marker === 0xda || marker === 0xd9) break; // image data: no more metadata
    const len = (b[o + 2] << 8) + b[o + 3];
    if (marker === 0xe1) {
      const seg = b.subarray(o + 4, o + 2 + len);
      if (latin1(seg.subarray(0, XMP_HEADER.length)) === XMP_HEADER) return utf8(seg.subarray(XMP_HEADER.length));
    }
    o += 2 + len;
  }
  return null;
}

/** XML character references and the five named entities back to text. */
export function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/** The unescaped text of <tag>…</tag> in an XMP packet, or null. */
export function xmpElement(xml: string, tag: string): string | null {
  const a = xml.indexOf(`<${tag}>`);
  if (a < 0) return null;
  const start = a + tag.length + 2;
  const b = xml.indexOf(`</${tag}>`, start);
  return b < 0 ? null : xmlUnescape(xml.slice(start, b));
}

/** The embedded JSON text of a PNG, WebP or JPEG file, or null when it has none. */
export function embeddedJson(bytes: Uint8Array): string | null {
  const png = pngText(bytes, 'ideogram4');
  if (png !== null) return png;
  const xmp = webpXmp(bytes) ?? jpegXmp(bytes);
  return xmp ? xmpElement(xmp, 'ideogram4:json') : null;
}

/** Parse the parameters of a generated image; null when the file carries none (or they do not parse). */
export function readImageMeta(bytes: Uint8Array): ImageMeta | null {
  const text = embeddedJson(bytes);
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as ImageMeta) : null;
  } catch {
    return null;
  }
}
