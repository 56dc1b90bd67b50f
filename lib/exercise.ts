/**
 * The stub of an exercise in a lesson's student edition (`npm run student`, see
 * docs/exercises.md). A solution region at the top level of a cell cannot simply throw: a cell
 * that throws loses its declarations in the kernel, and the check cell would then fail with
 * "Cannot find name" instead of saying what is missing. So the student edition declares each
 * name of the region as `todo(N, 'name')`, a value that throws "Exercise N: not implemented"
 * wherever it is used (called, read, compared as a number, printed), which is in the check cell.
 */
import { inspect } from 'node:util';

/**
 * A stand-in for the answer `name` of exercise `exercise`. Reading a property throws
 * `Error('Exercise N: not implemented (name is still a stub…)')`; calling it returns another
 * stand-in (`name(…)`), so that a call printed right after the solution does not stop the cell
 * (the kernel would drop the cell's declarations) and the check fails on it. As a number it is NaN
 * and as text `[name: exercise N, not implemented]`, so that a line printing it (often right
 * after the solution, in the same cell) still runs, and the check's own assertion fails with its
 * message ("expected 9/257, got NaN"). Without `name` it writes a one-line notice to stderr and returns undefined
 * (the stub of a region that only assigns to names declared outside it).
 *
 * @throws Error when `exercise` is not a positive integer.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function todo(exercise: number, name?: string): any {
  if (!Number.isInteger(exercise) || exercise <= 0) throw new Error(`exercise must be a positive integer, got ${exercise}`);
  const message = `Exercise ${exercise}: not implemented`;
  if (name === undefined) {
    process.stderr.write(`${message} yet: write your solution in place of the TODO, then run the check below.\n`);
    return undefined;
  }
  const fail = (): never => {
    throw new Error(`${message} (${name} is still a stub: write your solution in its place)`);
  };
  const shown = `[${name}: exercise ${exercise}, not implemented]`;
  return new Proxy(function stub() {}, {
    get(_t, key) {
      // Printing the stub (console.log, the kernel's display of a cell's value) says what it is.
      if (key === inspect.custom) return () => shown;
      if (key === Symbol.toStringTag) return shown;
      if (key === Symbol.toPrimitive) return (hint: string) => (hint === 'string' ? shown : NaN);
      if (key === 'toString') return () => shown;
      if (key === 'valueOf') return () => NaN;
      return fail();
    },
    apply: (): unknown => todo(exercise, `${name}(…)`),
    construct: () => todo(exercise, `new ${name}(…)`) as object,
    has: fail,
    set: fail,
    ownKeys: fail,
    getOwnPropertyDescriptor: fail,
  });
}
