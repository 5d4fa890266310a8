// Command-line flags of `dvfs serve` that set faults and shaping at start-up
// (the same settings the control endpoint takes at run time).
import { parseRule, SettingsError } from './faults/settings.js';

export const FAULT_FLAG_SPEC = {
  'latency-ms': { type: 'string' },
  bandwidth: { type: 'string' },
  'no-range': { type: 'boolean' },
  redirect: { type: 'boolean' },
  fault: { type: 'string', multiple: true },
  'fault-seed': { type: 'string' },
  'signed-url-seconds': { type: 'string' },
  'blob-port': { type: 'string' },
} as const;

export const FAULT_FLAG_HELP = `
Faults and shaping (also settable at run time, loopback only, no token:
GET/POST/DELETE /api/control/faults; request log: /api/control/requests):
  --latency-ms N        add N ms before every request is handled
  --bandwidth RATE      cap response bodies per connection, bytes/s
                        (500K, 10M, 1G: powers of 1024)
  --no-range            old-server mode (Dataverse 5.9-5.11): a Range request
                        gets 200 and the whole body
  --redirect            downloads answer 303 to a signed URL on a separate
                        blob origin (like S3 download-redirect)
  --signed-url-seconds N  lifetime of those signed URLs (default 3600)
  --blob-port N         port of that blob origin (default: a free one; fix it
                        so signed URLs stay valid across a restart)
  --fault JSON          a fault rule, repeatable, e.g.
                        '{"path":"^/api/access/datafile/","status":503,"retryAfter":2,"count":3}'
                        keys: path (regex on path+query), method, origin (api|blob),
                        status, retryAfter, probability, count, resetAfterBytes,
                        stallMs, stallAfterBytes, latencyMs
  --fault-seed N        seed of the generator behind 'probability'`;

/** "500K", "10M", "1G", "123" → bytes per second (K/M/G are powers of 1024). */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(text.trim());
  if (!m) throw new SettingsError(`--bandwidth needs a rate like 500K, 10M or 1G, got '${text}'`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  const rate = Math.floor(Number(m[1]) * unit);
  if (rate <= 0) throw new SettingsError(`--bandwidth must be above zero, got '${text}'`);
  return rate;
}

function count(name: string, v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n)) throw new SettingsError(`--${name} needs a non-negative number, got '${v}'`);
  return n;
}

/** The fault settings the flags ask for (keys as the control endpoint takes them). */
export function faultOptionsFromFlags(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const latency = str('latency-ms');
  if (latency !== undefined) out.latencyMs = count('latency-ms', latency);
  const bandwidth = str('bandwidth');
  if (bandwidth !== undefined) out.bandwidthBytesPerSec = parseRate(bandwidth);
  if (values['no-range'] === true) out.noRange = true;
  if (values.redirect === true) out.redirect = true;
  const seed = str('fault-seed');
  if (seed !== undefined) out.seed = count('fault-seed', seed);
  const faults = values.fault;
  if (Array.isArray(faults)) {
    out.rules = faults.map((text: string, i) => {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new SettingsError(`--fault #${i + 1} is not valid JSON: ${text}`);
      }
      return parseRule(json, `--fault #${i + 1}`);
    });
  }
  return out;
}

/** Server configuration the fault flags set (signed URL lifetime, blob origin port). */
export function faultConfigFromFlags(values: Record<string, unknown>): { signedUrlSeconds?: number; blobPort?: number } {
  const out: { signedUrlSeconds?: number; blobPort?: number } = {};
  const seconds = values['signed-url-seconds'];
  if (typeof seconds === 'string') out.signedUrlSeconds = count('signed-url-seconds', seconds);
  const port = values['blob-port'];
  if (typeof port === 'string') out.blobPort = count('blob-port', port);
  return out;
}
