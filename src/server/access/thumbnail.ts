// Image thumbnails (imageThumb=true|N, dataverse-api-notes.md §5.3): a real
// PNG scaled down to N pixels wide (64 by default) with a box filter. Only
// PNG sources are supported here (pngjs decodes nothing else).
import { PNG } from 'pngjs';

export const DEFAULT_THUMBNAIL_WIDTH = 64;

/** Can this server make a thumbnail of this content type (the "thumbnail" optional service)? */
export function thumbnailSupported(contentType: string): boolean {
  return contentType.split(';')[0].trim().toLowerCase() === 'image/png';
}

/**
 * The requested width of imageThumb=<value>: "true" and non-numbers mean the
 * default; a number <= 0 means no thumbnail at all (the real writer then
 * serves the file itself).
 */
export function thumbnailWidth(value: string): number | undefined {
  if (value === 'true') return DEFAULT_THUMBNAIL_WIDTH;
  if (!/^[+-]?\d+$/.test(value)) return DEFAULT_THUMBNAIL_WIDTH;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) return DEFAULT_THUMBNAIL_WIDTH;
  return n > 0 ? n : undefined;
}

/** Scale a PNG to `width` pixels wide (never up); undefined if the bytes are not a readable PNG. */
export function makeThumbnail(source: Buffer, width: number): Buffer | undefined {
  let img: PNG;
  try {
    img = PNG.sync.read(source);
  } catch {
    return undefined;
  }
  if (img.width <= width) return PNG.sync.write(img);
  const w = width;
  const h = Math.max(1, Math.round((img.height * w) / img.width));
  const sums = new Float64Array(w * h * 4);
  const counts = new Uint32Array(w * h);
  for (let y = 0; y < img.height; y++) {
    const ty = Math.min(h - 1, Math.floor((y * h) / img.height));
    for (let x = 0; x < img.width; x++) {
      const tx = Math.min(w - 1, Math.floor((x * w) / img.width));
      const t = ty * w + tx;
      const s = (y * img.width + x) * 4;
      sums[t * 4] += img.data[s];
      sums[t * 4 + 1] += img.data[s + 1];
      sums[t * 4 + 2] += img.data[s + 2];
      sums[t * 4 + 3] += img.data[s + 3];
      counts[t] += 1;
    }
  }
  const out = new PNG({ width: w, height: h });
  for (let t = 0; t < w * h; t++) {
    const n = counts[t] || 1;
    for (let c = 0; c < 4; c++) out.data[t * 4 + c] = Math.round(sums[t * 4 + c] / n);
  }
  return PNG.sync.write(out);
}
