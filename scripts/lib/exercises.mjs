// @ts-check
// Exercises in lessons, and the student edition of a lesson.
//
// The convention (see BRIEF and docs/exercises.md):
//   1. a markdown cell whose heading is `### Exercise N: <title>` states the task;
//   2. a code cell holds the solution between the lines `// BEGIN SOLUTION` and `// END SOLUTION`;
//   3. a code cell whose first line is `// CHECK exercise N` checks it with node:assert/strict.
// The student edition replaces each solution region by a stub that throws
// "Exercise N: not implemented", clears every output and keeps the check cells.
//
// Types: exercises.d.mts, which the tests and the other scripts see; each export here is checked
// against its declaration there (`@type {typeof import('./exercises.mjs').name}` resolves to it).
/** @typedef {import('./exercises.mjs').Notebook} Notebook */
/** @typedef {Notebook['cells'][number]} Cell */
/** @typedef {import('./exercises.mjs').Exercise} Exercise */
/** @typedef {import('./exercises.mjs').Role} Role */

/** The heading that opens an exercise. */
export const EXERCISE_HEADING = /^#{2,4}\s+Exercise\s+(\d+)\s*[:.]/m;
/** The first line of a check cell. */
export const CHECK_LINE = /^\s*\/\/\s*CHECK exercise\s+(\d+)\b/;
const BEGIN = /^(\s*)\/\/\s*BEGIN SOLUTION\s*$/;
const END = /^\s*\/\/\s*END SOLUTION\s*$/;
/** The cell tag that puts a cell of the lesson's body into the cheap exercise run. */
export const SETUP_TAG = 'exercise-setup';
/** What the stub throws: tests and the check runner match it. */
export const NOT_IMPLEMENTED = /Exercise (\d+): not implemented/;

/** A cell's source as one string (nbformat allows a list of lines). */
/** @type {typeof import('./exercises.mjs').sourceOf} */
export function sourceOf(cell) {
  return Array.isArray(cell.source) ? cell.source.join('') : (cell.source ?? '');
}

/**
 * The names a solution region declares at its own indentation: `const|let|var NAME[: T] = …`
 * (and simple destructuring), `function NAME`, `class NAME`. Returns [{name, type}], type or ''.
 */
/** @type {typeof import('./exercises.mjs').declaredNames} */
export function declaredNames(lines, indent) {
  /** @type {{ name: string, type: string, assigned?: boolean }[]} */
  const out = [];
  /** @param {string} line */
  const at = (line) => line.startsWith(indent) && !/^\s/.test(line.slice(indent.length));
  for (const line of lines) {
    if (!at(line)) continue;
    const body = line.slice(indent.length);
    const v = body.match(/^(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*([^=]+?))?\s*(=|;|$)/);
    if (v) {
      out.push({ name: /** @type {string} */ (v[1]), type: (v[2] ?? '').trim() });
      continue;
    }
    const d = body.match(/^(?:const|let|var)\s+[[{]([^\]}]*)[\]}]/);
    if (d) {
      for (const part of (d[1] ?? '').split(',')) {
        const name = part.split(':').at(-1)?.split('=')[0]?.trim();
        if (name && /^[A-Za-z_$][\w$]*$/.test(name)) out.push({ name, type: '' });
      }
      continue;
    }
    const f = body.match(/^(?:export\s+)?(?:async\s+)?(?:function\*?|class)\s+([A-Za-z_$][\w$]*)/);
    if (f) {
      out.push({ name: /** @type {string} */ (f[1]), type: '' });
      continue;
    }
    // An assignment to a name declared outside the region: `answer = …` (not `==`, `=>`).
    const a = body.match(/^([A-Za-z_$][\w$]*)\s*=(?![=>])/);
    const assigned = a?.[1];
    if (assigned !== undefined && !out.some((x) => x.name === assigned)) out.push({ name: assigned, type: '', assigned: true });
  }
  return out;
}

/** The identifiers a piece of code mentions (to keep only the stubs a check cell uses). */
/** @type {typeof import('./exercises.mjs').identifiers} */
export function identifiers(code) {
  return new Set(code.match(/[A-Za-z_$][\w$]*/g) ?? []);
}

/**
 * The stub that replaces a solution region.
 * - Inside a block (the BEGIN line is indented: a function's body), it throws
 *   "Exercise N: not implemented" when the code runs, which is in the check cell.
 * - At the top level of a cell a throw would make the kernel drop the cell's declarations (the
 *   check would then fail with "Cannot find name"), so each name the region declares becomes
 *   `todo(N, 'name')` from the lib, a value that throws "Exercise N: not implemented" where it is
 *   used, and so does each name declared outside that it assigns (`answer = …`). With `used`
 *   (the identifiers of the check cell), only the names the check uses get a stub: the
 *   solution's helpers are the student's to write. A region left with no name gets `todo(N)`,
 *   which prints a notice.
 */
/** @type {typeof import('./exercises.mjs').stubLines} */
export function stubLines(n, indent, regionLines = [], used = null) {
  const todoLine = `${indent}// TODO (exercise ${n}): write your solution here, in place of the stub below.`;
  if (indent !== '') {
    return [todoLine, `${indent}throw new Error('Exercise ${n}: not implemented (replace this line with your solution)');`];
  }
  const names = declaredNames(regionLines, indent).filter((x) => !used || used.has(x.name));
  const todo = "require('@frugal-ai/lib').todo";
  if (names.length === 0) return [todoLine, `${todo}(${n});`];
  return [
    todoLine,
    ...names.map(({ name, type, assigned }) =>
      assigned ? `${name} = ${todo}(${n}, '${name}');` : `let ${name}${type ? `: ${type}` : ''} = ${todo}(${n}, '${name}');`,
    ),
  ];
}

/**
 * The solution regions of one code cell's source.
 * @returns {{begin: number, end: number, indent: string}[]} line numbers (0-based) of the markers.
 * @throws Error naming the cell and line for a BEGIN without END, an END without BEGIN, or nesting.
 */
/** @type {typeof import('./exercises.mjs').solutionRegions} */
export function solutionRegions(source, where = 'cell') {
  /** @type {{ begin: number, end: number, indent: string }[]} */
  const regions = [];
  /** @type {{ begin: number, indent: string } | null} */
  let open = null;
  for (const [i, line] of source.split('\n').entries()) {
    const b = line.match(BEGIN);
    if (b) {
      if (open) throw new Error(`${where} line ${i + 1}: BEGIN SOLUTION inside the region opened at line ${open.begin + 1}`);
      open = { begin: i, indent: b[1] ?? '' };
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where} line ${i + 1}: END SOLUTION without a BEGIN SOLUTION before it`);
      regions.push({ ...open, end: i });
      open = null;
    }
  }
  if (open) throw new Error(`${where} line ${open.begin + 1}: BEGIN SOLUTION without an END SOLUTION`);
  return regions;
}

/**
 * The exercises of a notebook, in order.
 * @returns {{n: number, title: string, heading: number, solutions: number[], check: number}[]} cell indices.
 * @throws Error when an exercise has no solution cell or no check cell, a check names an exercise
 *   that has no heading, a solution cell sits outside an exercise, or numbers repeat.
 */
/** @type {typeof import('./exercises.mjs').parseExercises} */
export function parseExercises(nb, name = 'notebook') {
  const cells = nb.cells ?? [];
  /** @type {Exercise[]} */
  const exercises = [];
  /** @type {Exercise | null} */
  let current = null;
  cells.forEach((cell, i) => {
    const src = sourceOf(cell);
    const where = `${name} cell ${i + 1}`;
    if (cell.cell_type === 'markdown') {
      const m = src.match(EXERCISE_HEADING);
      if (m) {
        const n = Number(m[1]);
        if (exercises.some((e) => e.n === n)) throw new Error(`${where}: exercise ${n} appears twice`);
        const title = (src.match(/^#{2,4}\s+(Exercise.*)$/m)?.[1] ?? `Exercise ${n}`).trim();
        current = { n, title, heading: i, solutions: [], check: -1 };
        exercises.push(current);
      } else if (/^#{1,2}\s/m.test(src) && current && current.check >= 0) {
        current = null; // a new section after the last exercise closes it
      }
      return;
    }
    if (cell.cell_type !== 'code') return;
    const check = src.split('\n')[0]?.match(CHECK_LINE);
    if (check) {
      const n = Number(check[1]);
      const ex = exercises.find((e) => e.n === n);
      if (!ex) throw new Error(`${where}: "// CHECK exercise ${n}" but no "### Exercise ${n}:" heading before it`);
      if (ex.check >= 0) throw new Error(`${where}: exercise ${n} has a second check cell (the first is cell ${ex.check + 1})`);
      ex.check = i;
      return;
    }
    if (solutionRegions(src, where).length > 0) {
      if (!current) throw new Error(`${where}: a SOLUTION region outside any exercise (put a "### Exercise N:" heading before it)`);
      if (current.check >= 0) {
        throw new Error(`${where}: a SOLUTION region after the check of exercise ${current.n} (cell ${current.check + 1})`);
      }
      current.solutions.push(i);
    }
  });
  for (const e of exercises) {
    if (e.solutions.length === 0) throw new Error(`${name}: exercise ${e.n} has no code cell with // BEGIN SOLUTION … // END SOLUTION`);
    if (e.check < 0) throw new Error(`${name}: exercise ${e.n} has no check cell (a code cell starting "// CHECK exercise ${e.n}")`);
  }
  return exercises;
}

/**
 * A code cell's source with every solution region of exercise `n` replaced by the stub.
 * @param used identifiers of the exercise's check cell (see `stubLines`), or null for all names.
 */
/** @type {typeof import('./exercises.mjs').stubSource} */
export function stubSource(source, n, where = 'cell', used = null) {
  const lines = source.split('\n');
  const regions = solutionRegions(source, where);
  for (const r of [...regions].reverse()) {
    lines.splice(r.begin, r.end - r.begin + 1, ...stubLines(n, r.indent, lines.slice(r.begin + 1, r.end), used));
  }
  return lines.join('\n');
}

/** The identifiers of each exercise's check cell, by exercise number. */
/**
 * @param {Notebook} nb
 * @param {Exercise[]} exercises
 * @returns {Map<number, Set<string>>}
 */
function checkIdentifiers(nb, exercises) {
  return new Map(exercises.map((e) => [e.n, identifiers(sourceOf((nb.cells ?? [])[e.check] ?? { source: '' }))]));
}

/** A copy of the cell with no outputs (and the source as one string). */
/**
 * @param {Cell} cell
 * @returns {Cell & { metadata: Record<string, unknown> }}
 */
function cleared(cell, source = sourceOf(cell)) {
  const c = { ...cell, metadata: { ...(cell.metadata ?? {}) }, source };
  if (c.cell_type === 'code') {
    c.outputs = [];
    c.execution_count = null;
    delete c.metadata.execution;
  }
  return c;
}

/**
 * The student edition of a notebook: solution regions replaced by stubs, every output cleared,
 * check cells kept, `metadata.frugal_ai.edition = 'student'`.
 */
/** @type {typeof import('./exercises.mjs').studentEdition} */
export function studentEdition(nb, name = 'notebook') {
  const exercises = parseExercises(nb, name);
  /** @type {Map<number, number>} */
  const exerciseOf = new Map();
  for (const e of exercises) for (const i of e.solutions) exerciseOf.set(i, e.n);
  const used = checkIdentifiers(nb, exercises);
  const cells = (nb.cells ?? []).map((cell, i) => {
    const n = exerciseOf.get(i);
    if (n === undefined) return cleared(cell);
    return cleared(cell, stubSource(sourceOf(cell), n, `${name} cell ${i + 1}`, used.get(n)));
  });
  const metadata = { ...(nb.metadata ?? {}), frugal_ai: { ...(nb.metadata?.frugal_ai ?? {}), edition: 'student' } };
  return { ...nb, metadata, cells };
}

/** The names a cell declares at its top level (const, let, var, function, class, destructuring). */
/** @type {typeof import('./exercises.mjs').topLevelNames} */
export function topLevelNames(source) {
  return declaredNames(source.split('\n'), '').filter((x) => !x.assigned).map((x) => x.name);
}

/**
 * The cells of the lesson's body (before `first`) that the exercise section needs: those that
 * declare a name it uses, then, going back, those that declare a name those use, and so on.
 * A name declared again later wins, as in the kernel.
 */
/** @type {typeof import('./exercises.mjs').neededCells} */
export function neededCells(cells, first, last) {
  /** @type {Set<string>} */
  const needed = new Set();
  for (let i = first; i <= last; i++) {
    const c = cells[i];
    if (c?.cell_type === 'code') for (const id of identifiers(sourceOf(c))) needed.add(id);
  }
  /** @type {Set<number>} */
  const picked = new Set();
  for (let i = first - 1; i >= 0; i--) {
    const c = cells[i];
    if (c?.cell_type !== 'code') continue;
    const src = sourceOf(c);
    const names = topLevelNames(src);
    if (!names.some((n) => needed.has(n))) continue;
    picked.add(i);
    for (const n of names) needed.delete(n);
    for (const id of identifiers(src)) if (!names.includes(id)) needed.add(id);
  }
  return picked;
}

/**
 * The notebook the check runner executes once, in one kernel:
 *   1. the lesson's setup: its first code cell, the cells tagged `exercise-setup` and the cells
 *      of the body that declare the names the exercises use (mode 'cheap', see `neededCells`),
 *      or every cell before the first exercise (mode 'full');
 *   2. the student edition of the exercise section (expected to fail at the checks);
 *   3. the solution edition of the exercise section (expected to pass).
 * The student part runs first so that a solution's variables cannot hide a missing answer.
 * @returns {{nb: object, roles: {role: string, n?: number, from: number}[]}} one role per cell:
 *   'setup', 'student-solution', 'student-check', 'student-other', 'solution', 'check', 'other'.
 */
/** @type {typeof import('./exercises.mjs').checkNotebook} */
export function checkNotebook(nb, mode = 'cheap', name = 'notebook') {
  const exercises = parseExercises(nb, name);
  if (exercises.length === 0) throw new Error(`${name} has no exercises`);
  const cells = nb.cells ?? [];
  const first = Math.min(...exercises.map((e) => e.heading));
  const last = Math.max(...exercises.map((e) => e.check));
  const firstCode = cells.findIndex((c) => c.cell_type === 'code');
  const needed = mode === 'full' ? new Set() : neededCells(cells, first, last);
  /** @type {Cell[]} */
  const out = [];
  /** @type {Role[]} */
  const roles = [];
  /**
   * @param {Cell} cell
   * @param {string} role
   * @param {number} from
   * @param {number} [n]
   */
  const push = (cell, role, from, n) => {
    out.push({ ...cleared(cell), id: `x${out.length}` });
    roles.push(n === undefined ? { role, from } : { role, from, n });
  };
  cells.slice(0, first).forEach((c, i) => {
    if (c.cell_type !== 'code') return;
    const tags = c.metadata?.['tags'];
    const tagged = Array.isArray(tags) && tags.includes(SETUP_TAG);
    if (mode === 'full' || i === firstCode || tagged || needed.has(i)) push(c, 'setup', i);
  });
  const used = checkIdentifiers(nb, exercises);
  /** @type {Map<number, number>} */
  const solutionOf = new Map();
  /** @type {Map<number, number>} */
  const checkOf = new Map();
  for (const e of exercises) {
    for (const i of e.solutions) solutionOf.set(i, e.n);
    checkOf.set(e.check, e.n);
  }
  for (const student of [true, false]) {
    for (let i = first; i <= last; i++) {
      const c = cells[i];
      if (c?.cell_type !== 'code') continue;
      const pre = student ? 'student-' : '';
      const n = solutionOf.get(i);
      if (n !== undefined) {
        const src = student ? stubSource(sourceOf(c), n, `${name} cell ${i + 1}`, used.get(n)) : sourceOf(c);
        push({ ...c, source: src }, `${pre}solution`, i, n);
      } else if (checkOf.has(i)) push(c, `${pre}check`, i, checkOf.get(i));
      else push(c, `${pre}other`, i);
    }
  }
  return { nb: { ...nb, metadata: { ...(nb.metadata ?? {}) }, cells: out }, roles };
}

/** True when an error says a name from the lesson's body is missing (cheap mode lacks it). */
/** @type {typeof import('./exercises.mjs').isMissingName} */
export function isMissingName(err) {
  return /Cannot find name|is not defined|has no exported member|Cannot redeclare/.test(`${err.ename}: ${err.evalue}`);
}

/**
 * Judges one execution of `checkNotebook`: `errors` maps the executed notebook's cell index to
 * its error `{ename, evalue}`.
 * @returns {{exercises: {n: number, solution: string, student: string}[], problems: string[]}}
 *   where `solution` is 'passed' or the error, `student` is the message the blank edition shows
 *   at its check (when it fails as it should); `problems` is empty when all is as it should be.
 */
/** @type {typeof import('./exercises.mjs').judge} */
export function judge(roles, errors, name = 'notebook') {
  /** @type {string[]} */
  const problems = [];
  /** @type {Map<number | undefined, { n: number, solution: string, student: string }>} */
  const byN = new Map();
  /** @param {number | undefined} n */
  const ex = (n) => {
    let e = byN.get(n);
    if (!e) {
      e = { n: /** @type {number} */ (n), solution: 'passed', student: '(did not fail)' };
      byN.set(n, e);
    }
    return e;
  };
  /** @param {import('./exercises.mjs').CellError} e */
  const text = (e) => (`${e.ename}: ${e.evalue}`.split('\n')[0] ?? '').slice(0, 300);
  roles.forEach((r, i) => {
    const err = errors.get(i);
    const at = `${name} cell ${r.from + 1}`;
    switch (r.role) {
      case 'setup':
      case 'other':
      case 'student-other':
        if (err) problems.push(`${at} (${r.role === 'setup' ? 'lesson setup' : 'exercise section'}) failed: ${text(err)}`);
        break;
      case 'solution':
      case 'check':
        ex(r.n);
        if (err) {
          if (ex(r.n).solution === 'passed') ex(r.n).solution = text(err);
          problems.push(`exercise ${r.n}: the solution's ${r.role === 'check' ? 'check' : 'code'} (${at}) failed: ${text(err)}`);
        }
        break;
      case 'student-solution': {
        const m = err && `${err.evalue}`.match(NOT_IMPLEMENTED);
        if (err && !(m && Number(m[1]) === r.n)) {
          problems.push(`exercise ${r.n}: the student's stub cell (${at}) crashed before its stub: ${text(err)}`);
        }
        break;
      }
      case 'student-check': {
        const e = ex(r.n);
        if (!err) {
          problems.push(`exercise ${r.n}: the check (${at}) passes on the blank student edition: it checks nothing the student writes`);
          break;
        }
        const stub = `${err.evalue}`.match(NOT_IMPLEMENTED);
        if (err.ename === 'AssertionError' || stub) {
          e.student = text(err);
        } else {
          e.student = text(err);
          problems.push(
            `exercise ${r.n}: on the blank student edition the check (${at}) crashed with ${text(err)}; ` +
              `it should fail with an assertion that says what is missing (declare the answer outside the SOLUTION region and assert on it first)`,
          );
        }
        break;
      }
      default:
        break;
    }
  });
  return { exercises: [...byN.values()].sort((a, b) => a.n - b.n), problems };
}
