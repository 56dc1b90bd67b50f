import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAgainst, EXPECTED, recordedRuns, RESULTS_DIR_ENV, type Expectation } from '../lib/results';

const TABLE: Record<string, Expectation> = {
  // Hand-made entry: 0.75 ± 0.05.
  '99.acc': { lesson: '99', what: 'an accuracy', expected: 0.75, tolerance: 0.05, source: 'hand' },
};

describe('checkAgainst', () => {
  afterEach(() => {
    delete process.env[RESULTS_DIR_ENV];
  });
  it('returns a value within the tolerance', () => {
    expect(checkAgainst(TABLE, '99.acc', 0.79)).toBe(0.79);
  });
  it('throws outside the tolerance, naming the id, value and expectation', () => {
    expect(() => checkAgainst(TABLE, '99.acc', 0.81)).toThrow(/99\.acc \(an accuracy\) = 0\.81, expected 0\.75 ± 0\.05/);
  });
  it('throws on NaN and on an unknown id', () => {
    expect(() => checkAgainst(TABLE, '99.acc', Number.NaN)).toThrow(/= NaN/);
    expect(() => checkAgainst(TABLE, '99.nope', 1)).toThrow(/unknown figure id "99\.nope"/);
  });
  it('records each checked value, pass or fail, as a JSON line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'results-'));
    process.env[RESULTS_DIR_ENV] = dir;
    checkAgainst(TABLE, '99.acc', 0.75);
    expect(() => checkAgainst(TABLE, '99.acc', 0.5)).toThrow();
    const lines = readFileSync(join(dir, '99.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([{ id: '99.acc', value: 0.75, ok: true }, { id: '99.acc', value: 0.5, ok: false }]);
  });
});

describe('recordedRuns', () => {
  it('gives one row per id with its expectation and its recorded runs', () => {
    const rows = recordedRuns(['13.rl-test-accuracy-change', '14.teacher-accuracy']);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({
      figure: EXPECTED['13.rl-test-accuracy-change'].what,
      expected: EXPECTED['13.rl-test-accuracy-change'].expected,
      tolerance: EXPECTED['13.rl-test-accuracy-change'].tolerance,
      'recorded runs': EXPECTED['13.rl-test-accuracy-change'].source,
    });
    expect(rows[1]?.['recorded runs']).toMatch(/FRUGAL_SEED 42: 0\.344; 43: 0\.406; 44: 0\.234/);
  });

  it('names an id the table does not have', () => {
    expect(() => recordedRuns(['99.nothing' as never])).toThrow(/ids: no key figure "99\.nothing"/);
  });
});
