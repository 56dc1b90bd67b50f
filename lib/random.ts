/**
 * The seeded random source of the course. Everything random (initial weights, shuffles, splits,
 * augmentation, sampling) draws from an `Rng`, so a lesson rerun on the same backend gives the
 * same numbers.
 *
 * The generator is mulberry32 (32-bit state, period 2^32): small, fast and good enough for
 * shuffles and initialisation; it is not for cryptography.
 */

/** Checks that a seed is a safe integer, naming the argument. */
function assertSeed(seed: number, name: string): void {
  if (!Number.isSafeInteger(seed)) throw new Error(`${name} must be an integer, got ${seed}`);
}

export class Rng {
  private state: number;

  /**
   * @param seed any safe integer; the same seed gives the same stream.
   * @throws Error when `seed` is not an integer.
   */
  constructor(readonly seed: number) {
    assertSeed(seed, 'seed');
    // Mix the seed so that nearby seeds start far apart.
    this.state = hash32(seed) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * An integer in [0, n).
   * @throws Error when `n` is not a positive integer.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box-Muller). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }

  /** 0..n-1 in a random order. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** A seed for a tfjs op or initializer (`tf.randomNormal(shape, 0, 1, 'float32', rng.tfSeed())`). */
  tfSeed(): number {
    return this.int(2 ** 31 - 1);
  }

  /** An independent generator derived from this one and a label, e.g. `rng.fork('dropout')`. */
  fork(label: string): Rng {
    let h = this.int(2 ** 31 - 1);
    for (let i = 0; i < label.length; i++) h = hash32(h ^ label.charCodeAt(i));
    return new Rng(h >>> 1);
  }
}

/** A 32-bit integer hash (from the murmur3 finaliser). */
function hash32(x: number): number {
  let h = (x ^ (x / 4294967296)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The course's default seed. */
export const DEFAULT_SEED = 42;

let global = new Rng(DEFAULT_SEED);

/**
 * Resets the process-wide generator. A lesson calls it once, in its first cell.
 * @throws Error when `seed` is not an integer.
 */
export function seedAll(seed: number = DEFAULT_SEED): Rng {
  assertSeed(seed, 'seed');
  global = new Rng(seed);
  return global;
}

/** The process-wide generator. */
export function rng(): Rng {
  return global;
}
