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
    expect(out.at(-2)).toMatch(/^fit █{24} 20\/20 {2}loss=0\.05000 {2}\d+\.\d s\n$/);
    // The final line is the one-line summary: first → last value.
    expect(out.at(-1)).toMatch(/^fit: 20\/20 in \d+\.\d s · loss 1\.000 → 0\.05000\n$/);
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
    // The scale: max and min beside the curve, and the steps it spans.
    expect(html).toContain('<span>2.000</span><span>1.000</span>');
    expect(html).toContain('loss, steps 1–2');
  });

  it('collapses to one summary line when done', () => {
    const p = new Progress({ total: 2, label: 'teacher', throttleMs: 1e9 });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    p.update(1, { loss: 2.3, acc: 0.1 });
    p.update(2, { loss: 0.5, acc: 0.9 });
    expect(p.html(true)).toMatch(/^<div class="frugal-progress-done"[^>]*>✓ teacher: 2\/2 in \d+\.\d s · loss 2\.300 → 0\.5000 · acc 0\.1000 → 0\.9000<\/div>$/);
    expect(p.html(true)).not.toContain('<svg');
  });

  it('draws independent runs as points, summarised by mean and range', () => {
    const p = new Progress({ total: 3, label: 'seeds', throttleMs: 1e9, sparkline: 'points' });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    for (const [i, acc] of [0.8, 0.9, 0.85].entries()) p.update(i + 1, { acc });
    expect(p.html()).not.toContain('<polyline');
    expect(p.html().match(/<circle/g)).toHaveLength(3);
    expect(p.html()).toContain('acc, one point per run 1–3');
    expect(p.summary()).toMatch(/^seeds: 3\/3 in \d+\.\d s · acc mean 0\.8500 \(0\.8000 to 0\.9000\)$/);
    expect(() => new Progress({ total: 1, sparkline: 'dots' as never })).toThrow(/^sparkline must be 'line' or 'points', got "dots"$/);
  });
});

describe('sparkline', () => {
  it('maps the min to the bottom and the max to the top of the box', () => {
    // Reference, by hand: width 10, height 10, points x = 2 and 8, y = 10-2-0 = 8 and 10-2-6 = 2.
    expect(sparkline([0, 1], 10, 10)).toContain('points="2.0,8.0 8.0,2.0"');
    expect(sparkline([1], 10, 10)).not.toContain('polyline');
    // Points: the same positions as dots; a single value in the middle.
    expect(sparkline([0, 1], 10, 10, { points: true })).toContain('<circle cx="2.0" cy="8.0" r="2.5" fill="#1f77b4"/><circle cx="8.0" cy="2.0"');
    expect(sparkline([3], 10, 10, { points: true })).toContain('<circle cx="5.0" cy="5.0"');
  });
});
