// Deterministic content for the demo installation.
import { PNG } from 'pngjs';

/** A small deterministic PRNG (mulberry32), so demo files are the same every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REGIONS = ['North', 'South', 'East', 'West', 'Centre'];
const COMMENTS = ['fine', 'too expensive, but ok', 'would move again', 'noisy "neighbours"', 'good schools, long commute'];

/** Survey responses as CSV, with quoted fields containing commas and quotes. */
export function demoCsv(rows: number): string {
  const r = prng(7);
  const lines = ['id,region,age,income,satisfaction,comment'];
  for (let i = 1; i <= rows; i++) {
    const comment = COMMENTS[Math.floor(r() * COMMENTS.length)].replace(/"/g, '""');
    lines.push(
      [i, REGIONS[Math.floor(r() * REGIONS.length)], 18 + Math.floor(r() * 70), 15000 + Math.floor(r() * 90000), 1 + Math.floor(r() * 5), `"${comment}"`].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** Daily readings of one station as CSV. */
export function stationCsv(station: number): string {
  const r = prng(1000 + station);
  const lines = ['day,tmin,tmax,precip_mm'];
  for (let d = 1; d <= 30; d++) {
    const tmin = (-5 + r() * 15).toFixed(1);
    lines.push(`2024-06-${String(d).padStart(2, '0')},${tmin},${(Number(tmin) + 3 + r() * 12).toFixed(1)},${(r() * 20).toFixed(1)}`);
  }
  return lines.join('\n') + '\n';
}

/** A 320×200 bar chart as PNG. */
export function demoPng(): Buffer {
  const width = 320;
  const height = 200;
  const png = new PNG({ width, height });
  const bars = [0.62, 0.48, 0.81, 0.55, 0.7];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const bar = Math.floor((x - 20) / 58);
      const inBar = bar >= 0 && bar < bars.length && (x - 20) % 58 < 44 && y > height - 10 - bars[bar] * (height - 30) && y < height - 10;
      const [rr, gg, bb] = inBar ? [40 + bar * 40, 90 + bar * 25, 200 - bar * 30] : [248, 248, 245 - Math.floor(y / 20)];
      png.data[i] = rr;
      png.data[i + 1] = gg;
      png.data[i + 2] = bb;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}
