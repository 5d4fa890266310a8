// Sizes on the command line: 500M, 20G, 1.5T, or plain bytes (1024-based).
const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseSize(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(v.trim());
  if (!m) throw new Error(`${flag} needs a size like 500M or 20G, got '${v}'`);
  return Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** 1536 → "1.5 KiB": sizes for people (status and progress lines). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
