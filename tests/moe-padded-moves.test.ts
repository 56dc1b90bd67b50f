/**
 * lib/moe/padded-moves.ts: the capacity-padded layer's gather-only row moves, against the
 * scatter-add composition they replace (gatherRows, weightRows, scatterAddRows with `kernels`
 * moves), in values and in the gradients of the input, of the `[n, k]` gates and of a weight
 * between the two moves; with padding rows, with dropped slots (with and without padding: the zero
 * row), top-1 and top-2. Also each move's own gradient by hand, the maps' coordinate pairs, the
 * errors, and no leak. On cpu, and on tensorflow where tfjs-node is
 * installed (the backend whose layer uses these moves).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../lib/backend';
import { gatherRows, padDispatch, planDispatch, scatterAddRows, weightRows, type PaddedDispatch } from '../lib/moe/dispatch';
import { combinePaddedRows, gatherPaddedRows, paddedRowMaps } from '../lib/moe/padded-moves';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';
import { nativeInstalled } from './helpers/native';

function randn(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
}

/** A matrix, typed as one (tf.grads passes plain tensors). */
const m2 = (t: tf.Tensor): tf.Tensor2D => t as tf.Tensor2D;

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

interface Case {
  what: string;
  /** `[n·k]` expert choices, row-major `[n, k]`. */
  choices: number[];
  topK: number;
  experts: number;
  capacity: number;
  padding: boolean;
  dropped: boolean;
}

const CASES: Case[] = [
  { what: 'top-2, padding rows, no drops', choices: [0, 1, 0, 2, 1, 0, 0, 2, 2, 1, 0, 1], topK: 2, experts: 3, capacity: Infinity, padding: true, dropped: false },
  { what: 'top-2, drops and padding', choices: [0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 2, 0], topK: 2, experts: 3, capacity: 4, padding: true, dropped: true },
  { what: 'top-1, drops and no padding row (the appended zero row)', choices: [0, 0, 0, 1, 1, 1], topK: 1, experts: 2, capacity: 2, padding: false, dropped: true },
  { what: 'top-1, neither padding nor drops', choices: [1, 0, 1, 0], topK: 1, experts: 2, capacity: Infinity, padding: false, dropped: false },
];

/** The pad of a case, and its token count n. */
function layout(c: Case): { pad: PaddedDispatch; n: number } {
  const n = c.choices.length / c.topK;
  return { pad: padDispatch(planDispatch(c.choices, c.topK, c.experts, c.capacity)) as PaddedDispatch, n };
}

function suite(backend: BackendName): void {
  describe(`padded row moves with gathers only (${backend})`, () => {
    beforeAll(async () => {
      await initBackend({ force: backend });
      expect(tf.getBackend()).toBe(backend);
    });

    for (const c of CASES) {
      it(`equal the scatter-add composition: ${c.what}`, () => {
        tf.tidy(() => {
          const { pad, n } = layout(c);
          const maps = paddedRowMaps(pad, n, c.topK);
          expect(pad.paddingRows > 0, 'padding rows').toBe(c.padding);
          expect(maps.dropped, 'dropped slots').toBe(c.dropped);
          expect(maps.mask !== null).toBe(c.padding);
          const { experts: A, rowsPerExpert: C } = maps;
          const m = A * C;
          const d = 3;
          const rng = new Rng(m * 7 + n);
          const x = randn(rng, [n, d]) as tf.Tensor2D;
          const gates = randn(rng, [n, c.topK]) as tf.Tensor2D;
          const w = randn(rng, [d, d]) as tf.Tensor2D;
          const R = randn(rng, [n, d]);
          const P = randn(rng, [m, d]); // per row, as each expert's own weights would make the rows differ
          // Between the moves, a weight and a non-linearity, as the experts' FFN would be.
          const ffn = (rows: tf.Tensor2D, ws: tf.Tensor2D): tf.Tensor2D => tf.mul(tf.tanh(tf.matMul(rows, ws)), P);
          const mine = (xs: tf.Tensor, g: tf.Tensor, ws: tf.Tensor): tf.Scalar => {
            const rows = gatherPaddedRows(m2(xs), maps); // [A, C, d]
            const y = tf.reshape<tf.Rank.R3>(ffn(tf.reshape(rows, [m, d]), m2(ws)), [A, C, d]);
            return tf.sum(tf.mul(combinePaddedRows(y, m2(g), maps), R));
          };
          const ref = (xs: tf.Tensor, g: tf.Tensor, ws: tf.Tensor): tf.Scalar => {
            const rowTokens = Int32Array.from(pad.tokenIds, (t) => (t === n ? 0 : t));
            const gateIds = Int32Array.from(pad.slotIds, (s) => (s === n * c.topK ? 0 : s)); // padding rows: any gate, masked
            const y = ffn(gatherRows(m2(xs), rowTokens, 'kernels'), m2(ws));
            const rowGates = gatherRows(tf.reshape(g, [n * c.topK, 1]), gateIds, 'kernels');
            return tf.sum(tf.mul(scatterAddRows(weightRows(y, rowGates, maps.mask), rowTokens, n, 'kernels'), R));
          };
          expect(maxAbsDiff(mine(x, gates, w), ref(x, gates, w)), 'value').toBeLessThan(1e-5);
          const gm = tf.grads(mine)([x, gates, w]);
          const gr = tf.grads(ref)([x, gates, w]);
          ['x', 'gates', 'weight'].forEach((name, i) => expect(maxAbsDiff(gm[i] as tf.Tensor, gr[i] as tf.Tensor), `gradient of the ${name}`).toBeLessThan(1e-5));
        });
      });
    }

    it('each move\'s own gradient, by hand: padding rows pass none, dropped slots read zeros', () => {
      tf.tidy(() => {
        // 3 tokens, top-1, experts 0 and 1, capacity 1: token 0 -> expert 0, token 1 -> expert 1,
        // token 2 -> expert 0 (dropped). Rows: [[token 0] (expert 0), [token 1] (expert 1)], C = 1, no padding.
        const pad = padDispatch(planDispatch([0, 1, 0], 1, 2, 1)) as PaddedDispatch;
        expect(Array.from(pad.tokenIds)).toEqual([0, 1]);
        const maps = paddedRowMaps(pad, 3, 1);
        expect(Array.from(maps.slotRows)).toEqual([0, 0, 1, 0, 0, 1]); // (a, c) per slot; slot 2 dropped: (0, C), the zero row
        expect(Array.from(maps.rowSlots)).toEqual([0, 0, 1, 0]); // (t, j) per row
        const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
        const rows = gatherPaddedRows(x, maps);
        expect(rows.shape).toEqual([2, 1, 2]);
        expect(Array.from(rows.dataSync())).toEqual([1, 2, 3, 4]);
        const R = tf.tensor3d([[[10, 20]], [[30, 40]]]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherPaddedRows(m2(t), maps), R)))(x);
        expect(Array.from(dx.dataSync())).toEqual([10, 20, 30, 40, 0, 0]); // token 2 was dropped
        // Combine: out[t] = g[t] · y[row(t)].
        const y = tf.tensor3d([[[1, 2]], [[3, 4]]]);
        const g = tf.tensor2d([[0.5], [2], [7]]);
        expect(Array.from(combinePaddedRows(y, g, maps).dataSync())).toEqual([0.5, 1, 6, 8, 0, 0]);
        const dOut = tf.tensor2d([[1, -1], [2, 3], [9, 9]]);
        const [dy, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(combinePaddedRows(a as tf.Tensor3D, m2(b), maps), dOut)))([y, g]);
        expect(Array.from((dy as tf.Tensor).dataSync())).toEqual([0.5, -0.5, 4, 6]); // g · dout[token]
        expect(Array.from((dg as tf.Tensor).dataSync())).toEqual([-1, 18, 0]); // <dout[t], y[row]>; slot 2 was dropped
      });
    });

    it('a padding row reads token 0 but passes it no gradient, and gets none from the combine', () => {
      tf.tidy(() => {
        // top-1, 3 tokens to experts [0, 0, 1]: C = 2, rows [[t0, t1], [t2, padding]].
        const pad = padDispatch(planDispatch([0, 0, 1], 1, 2, Infinity)) as PaddedDispatch;
        const maps = paddedRowMaps(pad, 3, 1);
        expect(Array.from(maps.rowTokens)).toEqual([0, 1, 2, 0]);
        expect(Array.from(maps.mask ?? [])).toEqual([1, 1, 1, 0]);
        expect(Array.from(maps.rowSlots)).toEqual([0, 0, 1, 0, 2, 0, 0, 1]); // the padding row: (0, k), the zero slot
        const x = tf.tensor2d([[1], [2], [3]]);
        expect(Array.from(gatherPaddedRows(x, maps).dataSync())).toEqual([1, 2, 3, 1]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherPaddedRows(m2(t), maps), tf.tensor3d([[[1], [10]], [[100], [1000]]]))))(x);
        expect(Array.from(dx.dataSync())).toEqual([1, 10, 100]);
        const y = tf.tensor3d([[[1], [2]], [[3], [4]]]);
        const g = tf.tensor2d([[1], [2], [3]]);
        expect(Array.from(combinePaddedRows(y, g, maps).dataSync())).toEqual([1, 4, 9]); // the padding row's 4 is picked by no slot
        const dy = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(combinePaddedRows(a as tf.Tensor3D, g, maps), tf.tensor2d([[1], [10], [100]]))))(y);
        expect(Array.from(dy.dataSync())).toEqual([1, 20, 300, 0]);
      });
    });

    it('leaks nothing over a forward and backward', () => {
      const { pad, n } = layout(CASES[1] as Case);
      const maps = paddedRowMaps(pad, n, 2);
      const x = tf.ones<tf.Rank.R2>([n, 2]);
      const g = tf.ones<tf.Rank.R2>([n, 2]);
      for (let i = 0; i < 3; i++) {
        expectNoLeak(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(combinePaddedRows(gatherPaddedRows(m2(a), maps), m2(b), maps)))([x, g]), `step ${i}`);
      }
      tf.dispose([x, g]);
    });

    it('refuses a dispatch that is not a padded grid, or serves a slot twice', () => {
      const pad = padDispatch(planDispatch([0, 0, 1], 1, 2, Infinity)) as PaddedDispatch; // rows [[t0, t1], [t2, padding]]
      expect(() => paddedRowMaps({ ...pad, rowsPerExpert: 3 }, 3, 1)).toThrow('paddedRowMaps: 4 rows, but 2 experts × 3 rows');
      const twice = { ...pad, tokenIds: Int32Array.from([0, 1, 2, 0]), slotIds: Int32Array.from([0, 1, 2, 0]) }; // slot 0 in rows 0 and 3
      expect(() => paddedRowMaps(twice, 3, 1)).toThrow('paddedRowMaps: slot 0 is served by two rows, the second 3');
    });

    it('names the argument and the value when the inputs do not match the maps', () => {
      const { pad, n } = layout(CASES[0] as Case);
      const maps = paddedRowMaps(pad, n, 2);
      const { experts: A, rowsPerExpert: C } = maps;
      tf.tidy(() => {
        expect(() => gatherPaddedRows(tf.zeros<tf.Rank.R2>([n + 1, 2]), maps)).toThrow(`gatherPaddedRows: x has ${n + 1} rows, the maps ${n} tokens`);
        expect(() => combinePaddedRows(tf.zeros<tf.Rank.R3>([A, C - 1, 2]), tf.zeros<tf.Rank.R2>([n, 2]), maps)).toThrow(`combinePaddedRows needs y [${A}, ${C}, d] and gates [${n}, 2], got [${A}, ${C - 1}, 2] and [${n}, 2]`);
        expect(() => combinePaddedRows(tf.zeros<tf.Rank.R3>([A, C, 2]), tf.zeros<tf.Rank.R2>([n, 3]), maps)).toThrow(`got [${A}, ${C}, 2] and [${n}, 3]`);
      });
    });
  });
}

suite('cpu');
if (nativeInstalled()) suite('tensorflow');
