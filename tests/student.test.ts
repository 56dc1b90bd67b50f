/**
 * Student editions (scripts/lib/exercises.mjs, scripts/student.mjs) and the stub value
 * (lib/exercise.ts). The fixture tests/fixtures/exercises.ipynb follows the lesson convention;
 * the last tests execute both of its editions through the course kernel (about 5 s each).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { todo } from '../lib/exercise';
import {
  checkNotebook,
  declaredNames,
  judge,
  parseExercises,
  stubSource,
  studentEdition,
  type CellError,
  type Notebook,
} from '../scripts/lib/exercises.mjs';

const ROOT = path.resolve(__dirname, '..');
const FIXTURE = path.join(ROOT, 'tests', 'fixtures', 'exercises.ipynb');
const fixture = (): Notebook => JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Notebook;
const src = (c: { source: string | string[] }) => (Array.isArray(c.source) ? c.source.join('') : c.source);

const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const code = (source: string) => ({ cell_type: 'code', metadata: {}, source, outputs: [{ output_type: 'stream', name: 'stdout', text: 'x' }], execution_count: 3 });

describe('parseExercises', () => {
  it('finds the fixture three exercises with their solution and check cells', () => {
    const ex = parseExercises(fixture(), 'fixture');
    expect(ex.map((e) => e.n)).toEqual([1, 2, 3]);
    const nb = fixture();
    for (const e of ex) {
      expect(src(nb.cells[e.check]!)).toMatch(new RegExp(`^// CHECK exercise ${e.n}`));
      expect(e.solutions.length).toBe(1);
    }
  });
  it('rejects an exercise without a check cell, naming it', () => {
    const nb = { cells: [md('### Exercise 1: x'), code('// BEGIN SOLUTION\nconst a = 1;\n// END SOLUTION')] };
    expect(() => parseExercises(nb, 'nb')).toThrow(/nb: exercise 1 has no check cell \(a code cell starting "\/\/ CHECK exercise 1"\)/);
  });
  it('rejects a BEGIN without END, naming the cell and line', () => {
    const nb = { cells: [md('### Exercise 1: x'), code('let a;\n// BEGIN SOLUTION\na = 1;')] };
    expect(() => parseExercises(nb, 'nb')).toThrow(/nb cell 2 line 2: BEGIN SOLUTION without an END SOLUTION/);
  });
  it('rejects a check for an exercise that has no heading', () => {
    const nb = { cells: [code('// CHECK exercise 4\nassert.ok(true);')] };
    expect(() => parseExercises(nb, 'nb')).toThrow(/"\/\/ CHECK exercise 4" but no "### Exercise 4:" heading/);
  });
  it('rejects a solution region outside an exercise', () => {
    const nb = { cells: [code('// BEGIN SOLUTION\nconst a = 1;\n// END SOLUTION')] };
    expect(() => parseExercises(nb, 'nb')).toThrow(/a SOLUTION region outside any exercise/);
  });
  it('finds no exercises in a notebook without any', () => {
    expect(parseExercises({ cells: [md('# t'), code('1 + 1')] })).toEqual([]);
  });
});

describe('stubs', () => {
  it('inside a function, the region becomes a throw of "Exercise N: not implemented"', () => {
    const s = stubSource('function f(): number {\n  // BEGIN SOLUTION\n  return 1;\n  // END SOLUTION\n}', 2);
    expect(s).toBe(
      'function f(): number {\n  // TODO (exercise 2): write your solution here, in place of the stub below.\n' +
        "  throw new Error('Exercise 2: not implemented (replace this line with your solution)');\n}",
    );
  });
  it('at the top level, each declared name becomes todo(N, name), keeping its type', () => {
    const s = stubSource('// BEGIN SOLUTION\nconst kl: number = 0.5;\nfunction g() {\n  return 1;\n}\n// END SOLUTION', 3);
    expect(s.split('\n').slice(1)).toEqual([
      "let kl: number = require('@frugal-ai/lib').todo(3, 'kl');",
      "let g = require('@frugal-ai/lib').todo(3, 'g');",
    ]);
  });
  it('at the top level, an assigned outer name becomes todo(N, name); a region with no name, a notice', () => {
    expect(stubSource('let a = 0;\n// BEGIN SOLUTION\na = 1;\n// END SOLUTION', 1).split('\n').at(-1)).toBe("a = require('@frugal-ai/lib').todo(1, 'a');");
    expect(stubSource('// BEGIN SOLUTION\nconsole.log(1);\n// END SOLUTION', 1).split('\n').at(-1)).toBe("require('@frugal-ai/lib').todo(1);");
  });
  it("keeps only the stubs of the names the check uses (helpers are the student's)", () => {
    const src = '// BEGIN SOLUTION\nconst m = 2;\nconst answer = m * 3;\n// END SOLUTION';
    expect(stubSource(src, 1, 'cell', new Set(['assert', 'answer'])).split('\n').slice(1)).toEqual(["let answer = require('@frugal-ai/lib').todo(1, 'answer');"]);
  });
  it('declaredNames reads destructuring and ignores nested lines', () => {
    expect(declaredNames(['const [a, b] = f();', 'let { c, d: e } = g;', '  const inner = 1;', 'x = 2;', 'y == 3;'], '')).toEqual([
      { name: 'a', type: '' },
      { name: 'b', type: '' },
      { name: 'c', type: '' },
      { name: 'e', type: '' },
      { name: 'x', type: '', assigned: true },
    ]);
  });
});

describe('studentEdition', () => {
  it('replaces every solution, clears outputs, keeps check cells and the markdown', () => {
    const nb = fixture();
    nb.cells.forEach((c) => c.cell_type === 'code' && ((c.outputs = [{ output_type: 'stream' }]), (c.execution_count = 7)));
    const st = studentEdition(nb, 'fixture');
    const text = st.cells.filter((c) => c.cell_type === 'code').map(src).join('\n');
    expect(text).not.toMatch(/BEGIN SOLUTION|END SOLUTION|Math\.exp\(\(v - m\) \/ T\)/);
    expect(text.match(/TODO \(exercise \d\)/g)).toHaveLength(3);
    for (const c of st.cells.filter((c) => c.cell_type === 'code')) {
      expect(c.outputs).toEqual([]);
      expect(c.execution_count).toBeNull();
    }
    expect(st.cells.filter((c) => /^\/\/ CHECK exercise/.test(src(c)))).toHaveLength(3);
    expect(st.cells.filter((c) => c.cell_type === 'markdown').map(src)).toEqual(nb.cells.filter((c) => c.cell_type === 'markdown').map(src));
    expect(st.metadata?.['frugal_ai']).toEqual({ edition: 'student' });
  });
});

describe('checkNotebook and judge', () => {
  it('cheap mode runs the first code cell and the tagged cells, then student, then solution cells', () => {
    const { roles } = checkNotebook(fixture(), 'cheap');
    expect(roles.map((r) => r.role)).toEqual([
      'setup', 'setup',
      'student-solution', 'student-check', 'student-solution', 'student-check', 'student-solution', 'student-check',
      'solution', 'check', 'solution', 'check', 'solution', 'check',
    ]);
    // Full mode also runs the body cell the exercises do not need.
    expect(checkNotebook(fixture(), 'full').roles.filter((r) => r.role === 'setup')).toHaveLength(3);
    // Without the tag, the cell declaring `logits` is still found (the exercises use the name).
    const untagged = fixture();
    for (const c of untagged.cells) delete c.metadata?.['tags'];
    expect(checkNotebook(untagged, 'cheap').roles.filter((r) => r.role === 'setup').map((r) => r.from)).toEqual([1, 3]);
  });
  it('flags a check that passes on the blank edition, and a check that crashes instead of asserting', () => {
    const { roles } = checkNotebook(fixture(), 'cheap');
    const studentChecks = roles.flatMap((r, i) => (r.role === 'student-check' ? [i] : []));
    const errors = new Map<number, CellError>([
      [studentChecks[1]!, { ename: 'TypeError', evalue: "Cannot read properties of undefined (reading 'shape')" }],
      [studentChecks[2]!, { ename: 'AssertionError', evalue: 'expected ln 3' }],
    ]);
    const { problems } = judge(roles, errors, 'fx');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/exercise 1: the check \(fx cell 8\) passes on the blank student edition/);
    expect(problems[1]).toMatch(/exercise 2: on the blank student edition the check \(fx cell 11\) crashed with TypeError/);
  });
});

/** What todo() stands in for, as far as this test uses it: a number, a function, an object. */
type StandIn = number & { (...args: unknown[]): StandIn; readonly shape: unknown; readonly map: unknown };

describe('todo', () => {
  it('throws "Exercise N: not implemented" when read; a call gives another stand-in; NaN as a number, its name as text', () => {
    const v = todo(4, 'kl') as StandIn;
    expect(v === undefined).toBe(false);
    expect(() => v.shape).toThrow(/^Exercise 4: not implemented \(kl is still a stub/);
    expect(`${v(1)}`).toBe('[kl(…): exercise 4, not implemented]'); // a call gives another stand-in
    expect(() => v(1).map).toThrow(/^Exercise 4: not implemented \(kl\(…\) is still a stub/);
    expect(Number.isNaN(100 * v)).toBe(true);
    expect(Math.abs(v - 1) < 1e-9).toBe(false); // a check's comparison fails, with its own message
    expect(`got ${v}`).toBe('got [kl: exercise 4, not implemented]');
  });
  it('rejects a bad exercise number', () => {
    expect((): unknown => todo(0, 'x')).toThrow(/exercise must be a positive integer, got 0/);
  });
});

/** Runs `node scripts/student.mjs --check --json <nb>` and returns its one result. */
function runCheck(nbPath: string) {
  const r = spawnSync('node', ['scripts/student.mjs', '--check', '--json', nbPath], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  let parsed: Array<Record<string, unknown>>;
  try {
    parsed = JSON.parse(last) as Array<Record<string, unknown>>;
  } catch {
    throw new Error(`student.mjs printed no JSON (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, result: parsed[0] as Record<string, unknown> };
}

describe('both editions of the fixture, through the course kernel', () => {
  it('the solution passes its checks; the blank edition fails at each check with a message', () => {
    const { status, result } = runCheck(FIXTURE);
    expect(result['problems']).toEqual([]);
    expect(status).toBe(0);
    expect(result['mode']).toBe('cheap');
    const per = result['per'] as Array<{ n: number; solution: string; student: string }>;
    expect(per.map((e) => e.solution)).toEqual(['passed', 'passed', 'passed']);
    expect(per[0]!.student).toMatch(/^Error: Exercise 1: not implemented/);
    expect(per[1]!.student).toMatch(/^AssertionError: expected the z-loss to be 3\.52449, got \[zLoss: exercise 2, not implemented\]/);
    expect(per[2]!.student).toMatch(/^AssertionError: expected ln 3 = 1\.0986 nats, got \[entropy: exercise 3, not implemented\]/);
  }, 240_000);

  it('finds the body cells the exercises need without tags; falls back to the whole body when it misses one', () => {
    const dir = path.join(ROOT, 'out', 'test');
    fs.mkdirSync(dir, { recursive: true });
    // Untagged: the cell declaring `logits` is found from the names the exercises use.
    const nb = fixture();
    for (const c of nb.cells) delete c.metadata?.['tags'];
    const untagged = path.join(dir, 'exercises-untagged.ipynb');
    fs.writeFileSync(untagged, JSON.stringify(nb));
    const a = runCheck(untagged);
    expect(a.result['problems']).toEqual([]);
    expect(a.result['mode']).toBe('cheap');
    // A name declared on a continuation line (`const a = 1,\n  b = 0`) is not seen: the cheap run misses it and
    // the checker runs the whole body instead, saying why.
    const hidden = fixture();
    const at = hidden.cells.findIndex((c) => c.id === 'slow');
    hidden.cells.splice(at, 0, { cell_type: 'code', id: 'hidden', metadata: {}, source: 'const unusedOne = 1,\n  hiddenZero = 0;', outputs: [], execution_count: null });
    const check3 = hidden.cells.find((c) => c.id === 'check3')!;
    check3.source = src(check3).replace('Math.abs(entropy - Math.log(3))', 'Math.abs(entropy + hiddenZero - Math.log(3))');
    const file = path.join(dir, 'exercises-hidden.ipynb');
    fs.writeFileSync(file, JSON.stringify(hidden));
    const b = runCheck(file);
    expect(b.result['problems']).toEqual([]);
    expect(b.status).toBe(0);
    expect(b.result['mode']).toBe('full');
    expect(b.result['note']).toMatch(/Cannot find name 'hiddenZero'.*Tag its cell "exercise-setup"/);
  }, 240_000);
});
