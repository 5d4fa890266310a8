// Helpers for the Access API tests: reading zips, making PNGs, switching the
// server's fault modes, and the fixed JAX-RS messages of the notes (§1.2, §5).
import yauzl from 'yauzl';
import { PNG } from 'pngjs';
import { Api, type RawResponse } from './api.js';

export const GENERIC_403 =
  'Not authorized to access this object via this API endpoint. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.';
export const GENERIC_404 =
  'API endpoint does not exist on this server. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.';
export const NOT_SUPPORTED =
  'datafile access error: requested optional service (image scaling, format conversion, etc.) is not supported on this datafile.';

/** The JAX-RS error body of notes §1.2 with requestUrl and requestMethod. */
export function jaxrs(status: number, message: string, requestUrl: string, method = 'GET') {
  return { status: 'ERROR', code: status, message, requestUrl, requestMethod: method };
}

/** Every entry of a zip: name → bytes (directories map to an empty buffer). */
export async function unzipAll(data: Buffer): Promise<Map<string, Buffer>> {
  const zip = await yauzl.fromBufferPromise(data, { lazyEntries: true });
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/')) {
        out.set(entry.fileName, Buffer.alloc(0));
        zip.readEntry();
        return;
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        stream.on('data', (c: Buffer) => parts.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          out.set(entry.fileName, Buffer.concat(parts));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return out;
}

/** A PNG whose left half is red and right half blue. */
export function twoColourPng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const left = x < width / 2;
      png.data[i] = left ? 255 : 0;
      png.data[i + 1] = 0;
      png.data[i + 2] = left ? 0 : 255;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

export function readPng(data: Buffer): PNG {
  return PNG.sync.read(data);
}

/** Merge fault settings on a running server (the control endpoint). */
export async function setFaults(api: Api, settings: Record<string, unknown>): Promise<void> {
  const r = await api.as(undefined).post('/api/control/faults', settings);
  if (r.status !== 200) throw new Error(`set faults: ${r.status} ${r.text}`);
}

export async function resetFaults(api: Api): Promise<void> {
  const r = await api.as(undefined).delete('/api/control/faults');
  if (r.status !== 200) throw new Error(`reset faults: ${r.status} ${r.text}`);
}

/** The DataFile id of an /add response. */
export function addedFileId(r: RawResponse): number {
  if (r.status !== 200) throw new Error(`add failed: ${r.status} ${r.text}`);
  return r.json.data.files[0].dataFile.id;
}

/** The multi-file zip name of a dataset PID (notes §5.6): doi:10.5072/FK2/AB → doi-10.5072-fk2-ab. */
export function zipBase(pid: string): string {
  const m = /^(\w+):([^/]+)\/(.+)$/.exec(pid)!;
  return `${m[1]}-${m[2].toLowerCase()}-${m[3].replace(/\//g, '-').toLowerCase()}`;
}
