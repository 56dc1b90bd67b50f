import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, sparkline } from '../lib/progress';

afterEach(() => vi.restoreAllMocks());

describe('Progress', () => {
  it('records metrics by step and prints one line per tenth outside a kernel', () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    const p = new Progress({ total: 20, label: 'fit', throttleMs: 0 });
    for (let s = 1; s <= 20; s++) p.update(s, { loss: 1 / s });
    p.done();
    expect(p.history.loss).toHaveLength(20);
    expect(p.history.loss?.[3]).toBeCloseTo(0.25, 12);
    expect(p.steps.at(-1)).toBe(20);
    // steps 1..20 cross deciles 0..10 once each (11 lines), plus the final line
    expect(out).toHaveLength(12);
    expect(out.at(-1)).toMatch(/^fit █{24} 20\/20 {2}loss=0\.05000 {2}done in \d+\.\d s\n$/);
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => new Progress({ total: 0 })).toThrow(/^total must be a positive integer, got 0$/);
    const p = new Progress({ total: 3 });
    expect(() => p.update(4)).toThrow(/^step must be an integer in \[1, 3\], got 4$/);
    expect(() => p.update(1, { loss: Number.NaN })).toThrow(/^metric loss must be a finite number, got NaN at step 1$/);
  });

  it('draws the tracked metric as an SVG curve in the HTML view', () => {
    const p = new Progress({ total: 2, label: 'a<b', throttleMs: 1e9 });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    p.update(1, { loss: 2 });
    p.update(2, { loss: 1 });
    const html = p.html();
    expect(html).toContain('a&lt;b');
    expect(html).toContain('<polyline');
    expect(html).toContain('width:100.0%');
  });
});

describe('sparkline', () => {
  it('maps the min to the bottom and the max to the top of the box', () => {
    // Reference, by hand: width 10, height 10, points x = 2 and 8, y = 10-2-0 = 8 and 10-2-6 = 2.
    expect(sparkline([0, 1], 10, 10)).toContain('points="2.0,8.0 8.0,2.0"');
    expect(sparkline([1], 10, 10)).not.toContain('polyline');
  });
});
