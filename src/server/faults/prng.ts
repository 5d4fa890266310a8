// A small seedable generator (mulberry32), so probabilistic faults repeat
// exactly for a given seed and request sequence.
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = Math.floor(seed) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
