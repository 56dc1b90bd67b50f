/**
 * lib/knobs: the scale knob is read each time the first cell runs (no restart), a number in the
 * cell beats FRUGAL_SCALE, bad values fail naming the value, and checkResult relaxes away from
 * scale 1 (its expectations hold at scale 1).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentScale, scaleKnob, SCALE_ENV, seedKnob, SEED_ENV } from '../lib/knobs';
import { rng, seedAll } from '../lib/random';
import { checkAgainst, RESULTS_DIR_ENV, type Expectation } from '../lib/results';

const saved = process.env[SCALE_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[SCALE_ENV];
  else process.env[SCALE_ENV] = saved;
  delete process.env[RESULTS_DIR_ENV];
  scaleKnob(1);
  vi.restoreAllMocks();
});

describe('scaleKnob', () => {
  it('is 1 without FRUGAL_SCALE, and reads FRUGAL_SCALE anew at each call', () => {
    delete process.env[SCALE_ENV];
    expect(scaleKnob()).toBe(1);
    process.env[SCALE_ENV] = '4'; // changed while the kernel runs: the next run of the cell sees it
    expect(scaleKnob()).toBe(4);
    expect(currentScale()).toBe(4);
    process.env[SCALE_ENV] = '';
    expect(scaleKnob()).toBe(1);
  });
  it('takes a number from the cell over FRUGAL_SCALE', () => {
    process.env[SCALE_ENV] = '4';
    expect(scaleKnob(0.5)).toBe(0.5);
    expect(currentScale()).toBe(0.5);
  });
  it('rejects a scale that is not a finite number > 0, naming it', () => {
    expect(() => scaleKnob(0)).toThrow(/^scaleKnob\(value\): value must be a finite number > 0, got 0$/);
    expect(() => scaleKnob(Number.NaN)).toThrow(/got NaN$/);
    process.env[SCALE_ENV] = 'big';
    expect(() => scaleKnob()).toThrow(/^FRUGAL_SCALE must be a finite number > 0, got "big"$/);
    process.env[SCALE_ENV] = '-2';
    expect(() => scaleKnob()).toThrow(/^FRUGAL_SCALE must be a finite number > 0, got "-2"$/);
  });
});

describe('checkAgainst away from scale 1', () => {
  const TABLE: Record<string, Expectation> = {
    // Hand-made entry: 0.75 ± 0.05.
    '99.acc': { lesson: '99', what: 'an accuracy', expected: 0.75, tolerance: 0.05, source: 'hand' },
  };
  it('throws at scale 1, warns (and records not ok) at another scale', () => {
    scaleKnob(1);
    expect(() => checkAgainst(TABLE, '99.acc', 0.5)).toThrow(/expected 0\.75 ± 0\.05.*default knobs/);
    const dir = mkdtempSync(join(tmpdir(), 'knobs-'));
    process.env[RESULTS_DIR_ENV] = dir;
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    scaleKnob(2);
    expect(checkAgainst(TABLE, '99.acc', 0.5)).toBe(0.5);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/99\.acc .* = 0\.5, expected 0\.75 ± 0\.05 .*holds at scale 1 \(this run: scale 2\)/);
    expect(() => checkAgainst(TABLE, '99.acc', Number.NaN)).toThrow(/= NaN/); // never a NaN, at any scale
    const lines = readFileSync(join(dir, '99.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines[0]).toEqual({ id: '99.acc', value: 0.5, ok: false });
  });
});

describe('seedKnob', () => {
  const savedSeed = process.env[SEED_ENV];
  afterEach(() => {
    if (savedSeed === undefined) delete process.env[SEED_ENV];
    else process.env[SEED_ENV] = savedSeed;
    seedAll();
  });

  it('is 42 without FRUGAL_SEED, reads FRUGAL_SEED anew at each call, and a number beats it', () => {
    delete process.env[SEED_ENV];
    expect(seedKnob()).toBe(42);
    process.env[SEED_ENV] = '43';
    expect(seedKnob()).toBe(43);
    expect(seedKnob(7)).toBe(7);
  });

  it('seeds the process-wide generator: the same seed gives the same draws, another seed others', () => {
    seedKnob(43);
    const a = [rng().next(), rng().next()];
    seedKnob(43);
    expect([rng().next(), rng().next()]).toEqual(a);
    seedKnob(44);
    expect([rng().next(), rng().next()]).not.toEqual(a);
  });

  it('rejects a seed that is not an integer, naming the value', () => {
    expect(() => seedKnob(1.5)).toThrow(/seedKnob\(value\): value must be an integer, got 1\.5/);
    process.env[SEED_ENV] = 'abc';
    expect(() => seedKnob()).toThrow(/FRUGAL_SEED must be an integer, got "abc"/);
  });
});
