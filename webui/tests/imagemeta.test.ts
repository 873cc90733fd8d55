// The metadata readers against files laid out exactly as src/pipeline/image.c writes them
// (read back by src/pipeline/image_meta.c): PNG iTXt `ideogram4` (+ `parameters` tEXt) before IDAT,
// the WebP "XMP " chunk after the image in an extended (VP8X) file, and the JPEG APP1 segment
// "http://ns.adobe.com/xap/1.0/\0" + XMP packet after the JFIF APP0, each packet holding
// <ideogram4:json> with & < > " escaped.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { embeddedJson, jpegXmp, pngText, readImageMeta, webpXmp, xmlUnescape } from '../src/lib/imagemeta';

const enc = new TextEncoder();
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const le32 = (n: number) => Uint8Array.of(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24);
const be16 = (n: number) => Uint8Array.of(n >>> 8, n & 255);

// The escaping of image.c's sb_xml: & < > " as entities, control characters other than tab and newline dropped.
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  // eslint-disable-next-line no-control-regex
  .replace(/[\x00-\x08\x0b-\x1f]/g, '');
const NS = 'https://github.com/ideogram4c/ns/1.0/';
/** image.c's xmp_packet(). */
function xmpPacket(json: string, parameters?: string): string {
  let s = '<?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    + '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    + ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    + `  <rdf:Description rdf:about="" xmlns:ideogram4="${NS}">\n`;
  s += `   <ideogram4:json>${xmlEscape(json)}</ideogram4:json>\n`;
  if (parameters !== undefined) s += `   <ideogram4:parameters>${xmlEscape(parameters)}</ideogram4:parameters>\n`;
  return s + '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>';
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  return cat(be32(data.length), ascii(type), data, be32(0)); // the CRC is not checked by the reader
}
/** libpng's layout for png_set_text with an iTXt `ideogram4` (uncompressed, empty language) and a tEXt `parameters`. */
function pngFile(json: string, parameters = 'Steps: 12, Seed: 7'): Uint8Array {
  const ihdr = cat(be32(4), be32(4), Uint8Array.of(8, 2, 0, 0, 0));
  const itxt = cat(ascii('ideogram4'), Uint8Array.of(0, 0, 0), Uint8Array.of(0), Uint8Array.of(0), enc.encode(json));
  const text = cat(ascii('parameters'), Uint8Array.of(0), ascii(parameters));
  return cat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), pngChunk('IHDR', ihdr), pngChunk('iTXt', itxt),
    pngChunk('tEXt', text), pngChunk('IDAT', Uint8Array.of(1, 2, 3)), pngChunk('IEND', new Uint8Array()));
}

function riffChunk(type: string, data: Uint8Array): Uint8Array {
  return cat(ascii(type), le32(data.length), data, data.length & 1 ? Uint8Array.of(0) : new Uint8Array());
}
/** What WebPMuxAssemble makes of a lossy image plus an "XMP " chunk: VP8X (XMP flag) first, the image, then XMP. */
function webpFile(xmp: string, imageBytes = 7): Uint8Array {
  const vp8x = cat(Uint8Array.of(0x04, 0, 0, 0), Uint8Array.of(3, 0, 0), Uint8Array.of(3, 0, 0)); // XMP flag; 4×4 (minus one)
  const image = new Uint8Array(imageBytes).fill(0x9d); // odd length: the chunk is padded to an even size
  const body = cat(ascii('WEBP'), riffChunk('VP8X', vp8x), riffChunk('VP8 ', image), riffChunk('XMP ', enc.encode(xmp)));
  return cat(ascii('RIFF'), le32(body.length), body);
}

function jpegSegment(marker: number, payload: Uint8Array): Uint8Array {
  return cat(Uint8Array.of(0xff, marker), be16(payload.length + 2), payload);
}
/** libjpeg with jpeg_write_marker(APP1) after jpeg_start_compress: SOI, APP0 JFIF, APP1 XMP, DQT…, SOS, data, EOI. */
function jpegFile(xmp: string, exifFirst = false): Uint8Array {
  const jfif = cat(ascii('JFIF'), Uint8Array.of(0, 1, 1, 0, 0, 1, 0, 1, 0, 0));
  const app1 = cat(ascii('http://ns.adobe.com/xap/1.0/'), Uint8Array.of(0), enc.encode(xmp));
  const exif = jpegSegment(0xe1, cat(ascii('Exif'), Uint8Array.of(0, 0), new Uint8Array(8)));
  return cat(Uint8Array.of(0xff, 0xd8), jpegSegment(0xe0, jfif), exifFirst ? exif : new Uint8Array(), jpegSegment(0xe1, app1),
    jpegSegment(0xdb, new Uint8Array(65)), jpegSegment(0xda, new Uint8Array(10)), Uint8Array.of(0x12, 0x34, 0xff, 0xd9));
}

const meta = {
  caption: JSON.stringify({ high_level_description: 'A "quoted" <tag> & more — ünïcode ✓', compositional_deconstruction: { background: 'b', elements: [] } }),
  seed: 1234, preset: 'V4_TURBO_12', steps: 12, resolution: [512, 768], format: 'webp',
  loras: [{ name: 'style.safetensors', strength: 0.8 }], engine: 'ideogram4.c', batch: { index: 1, count: 2 },
};
const json = JSON.stringify(meta);

describe('image metadata readers (the formats src/pipeline/image.c writes)', () => {
  it('PNG: the iTXt `ideogram4` chunk, not the `parameters` tEXt', () => {
    const png = pngFile(json);
    expect(pngText(png, 'ideogram4')).toBe(json);
    expect(pngText(png, 'parameters')).toBe('Steps: 12, Seed: 7');
    expect(readImageMeta(png)).toEqual(meta);
  });

  it('WebP: the "XMP " chunk after a padded odd-sized image chunk', () => {
    const packet = xmpPacket(json, 'Steps: 12 & <more>');
    const webp = webpFile(packet);
    expect(webpXmp(webp)).toBe(packet);
    expect(embeddedJson(webp)).toBe(json);
    const m = readImageMeta(webp)!;
    expect(m).toEqual(meta);
    expect(JSON.parse(m.caption!).high_level_description).toBe('A "quoted" <tag> & more — ünïcode ✓');
    // An even-sized image chunk (no padding byte) reads the same.
    expect(readImageMeta(webpFile(packet, 8))).toEqual(meta);
  });

  it('WebP without an XMP chunk, or a simple (VP8) file: no metadata', () => {
    const body = cat(ascii('WEBP'), riffChunk('VP8 ', new Uint8Array(10)));
    expect(readImageMeta(cat(ascii('RIFF'), le32(body.length), body))).toBeNull();
  });

  it('JPEG: the APP1 XMP segment after JFIF (and after an Exif APP1)', () => {
    const packet = xmpPacket(json);
    expect(jpegXmp(jpegFile(packet))).toBe(packet);
    expect(readImageMeta(jpegFile(packet))).toEqual(meta);
    expect(readImageMeta(jpegFile(packet, true))).toEqual(meta);
  });

  it('JPEG: a packet too big for one segment is written without the JSON: no metadata, no crash', () => {
    const onlyParams = xmpPacket('').replace('   <ideogram4:json></ideogram4:json>\n', '   <ideogram4:parameters>Steps: 12</ideogram4:parameters>\n');
    expect(readImageMeta(jpegFile(onlyParams))).toBeNull();
  });

  it('control characters are dropped by the writer; entities and numeric references are undone', () => {
    expect(xmlEscape('a\u0001b\tc\n')).toBe('ab\tc\n');
    expect(xmlUnescape('&lt;a&gt; &amp;amp; &quot;q&quot; &#233; &#x2713; &bogus;')).toBe('<a> &amp; "q" é ✓ &bogus;');
  });

  it('files without metadata, truncated files and other formats give null', () => {
    const png = pngFile(json);
    expect(readImageMeta(png.subarray(0, 40))).toBeNull();
    expect(readImageMeta(jpegFile(xmpPacket(json)).subarray(0, 30))).toBeNull();
    expect(readImageMeta(ascii('GIF89a......'))).toBeNull();
    expect(readImageMeta(pngFile('not json'))).toBeNull();
    expect(readImageMeta(pngFile('[1,2]'))).toBeNull();
  });
});

describe('image metadata of files written by the engine (tests/fixtures: `ideogram4 generate` on the tiny model, 128×128, 2 steps, seed 5)', () => {
  const read = (name: string) => new Uint8Array(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name)));
  for (const [file, format] of [['engine.png', 'png'], ['engine.webp', 'webp'], ['engine.jpg', 'jpeg']] as const) {
    it(`${file}: the embedded JSON`, () => {
      const m = readImageMeta(read(file));
      expect(m).not.toBeNull();
      expect(m).toMatchObject({ caption: 'a "kite" & <dunes>', seed: 5, steps: 2, resolution: [128, 128], format, loras: [] });
      expect(String(m!.engine)).toMatch(/^ideogram4\.c /);
    });
  }
});
