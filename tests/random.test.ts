import { describe, expect, it } from 'vitest';
import { Rng, rng, seedAll } from '../lib/random';

describe('Rng', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it('draws uniforms in [0, 1) with mean near 1/2 and normals with mean 0, std 1', () => {
    const r = new Rng(1);
    const n = 20000;
    const u = Array.from({ length: n }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    // Reference: the mean of n uniforms has std 1/sqrt(12 n) = 0.002; 5 sigma = 0.01.
    expect(Math.abs(u.reduce((s, x) => s + x, 0) / n - 0.5)).toBeLessThan(0.01);
    const z = Array.from({ length: n }, () => r.normal());
    const mean = z.reduce((s, x) => s + x, 0) / n;
    const variance = z.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.04); // 5 sigma of the mean: 5 / sqrt(20000)
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('permutes without losing or repeating items', () => {
    const p = new Rng(3).permutation(100);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('forks into independent, reproducible streams', () => {
    const f1 = new Rng(5).fork('init');
    const f2 = new Rng(5).fork('init');
    const g = new Rng(5).fork('data');
    expect(f1.next()).toBe(f2.next());
    expect(new Rng(5).fork('init').next()).not.toBe(g.next());
  });

  it('validates its arguments, naming them', () => {
    expect(() => new Rng(1.5)).toThrow(/^seed must be an integer, got 1.5$/);
    expect(() => new Rng(1).int(0)).toThrow(/^n must be a positive integer, got 0$/);
    expect(() => seedAll(Number.NaN)).toThrow(/seed must be an integer, got NaN/);
  });

  it('seedAll resets the global stream', () => {
    seedAll(11);
    const a = rng().next();
    seedAll(11);
    expect(rng().next()).toBe(a);
  });
});
