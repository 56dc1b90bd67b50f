/**
 * lib/moe/padded-moves.ts: the capacity-padded layer's gather-only row moves, against the
 * scatter-add composition they replace (gatherRows, weightRows, scatterAddRows with `kernels`
 * moves), in values and in the gradients of the input, of the flat gates and of a weight between
 * the two moves; with padding rows, with dropped slots (with and without padding: the zero row),
 * top-1 and top-2, gates read from `[n·E]` scores or from `[n·k]` gates. Also each move's own
 * gradient by hand, the errors, and no leak. On cpu, and on tensorflow where tfjs-node is
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
  /** Gates read from the `[n·E]` scores (unnormalised), else from the `[n·k]` gates. */
  fromScores: boolean;
  padding: boolean;
  dropped: boolean;
}

const CASES: Case[] = [
  { what: 'top-2, padding rows, no drops, gates from the scores', choices: [0, 1, 0, 2, 1, 0, 0, 2, 2, 1, 0, 1], topK: 2, experts: 3, capacity: Infinity, fromScores: true, padding: true, dropped: false },
  { what: 'top-2, drops and padding, gates from [n, k]', choices: [0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 2, 0], topK: 2, experts: 3, capacity: 4, fromScores: false, padding: true, dropped: true },
  { what: 'top-1, drops and no padding row (the appended zero row)', choices: [0, 0, 0, 1, 1, 1], topK: 1, experts: 2, capacity: 2, fromScores: true, padding: false, dropped: true },
  { what: 'top-1, neither padding nor drops', choices: [1, 0, 1, 0], topK: 1, experts: 2, capacity: Infinity, fromScores: false, padding: false, dropped: false },
];

/** The pad of a case, the rows' gate ids (as the layer computes them) and the gate source width F. */
function layout(c: Case): { pad: PaddedDispatch; gateIds: Int32Array; F: number; n: number } {
  const n = c.choices.length / c.topK;
  const pad = padDispatch(planDispatch(c.choices, c.topK, c.experts, c.capacity)) as PaddedDispatch;
  const C = pad.rowsPerExpert;
  const gateIds = new Int32Array(pad.tokenIds.length);
  pad.tokenIds.forEach((t, i) => {
    if (t === n) return; // padding: 0
    gateIds[i] = c.fromScores ? t * c.experts + (pad.experts[Math.floor(i / C)] as number) : (pad.slotIds[i] as number);
  });
  return { pad, gateIds, F: c.fromScores ? n * c.experts : n * c.topK, n };
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
          const { pad, gateIds, F, n } = layout(c);
          const maps = paddedRowMaps(pad, n, c.topK);
          expect(pad.paddingRows > 0, 'padding rows').toBe(c.padding);
          expect(maps.dropped, 'dropped slots').toBe(c.dropped);
          expect(maps.mask !== null).toBe(c.padding);
          const m = pad.tokenIds.length;
          const d = 3;
          const rng = new Rng(m * 7 + n);
          const x = randn(rng, [n, d]) as tf.Tensor2D;
          const src = randn(rng, [F, 1]) as tf.Tensor2D;
          const w = randn(rng, [d, d]) as tf.Tensor2D;
          const R = randn(rng, [n, d]);
          const P = randn(rng, [m, d]); // per row, as each expert's own weights would make the rows differ
          // Between the moves, a weight and a non-linearity, as the experts' FFN would be.
          const ffn = (rows: tf.Tensor2D, ws: tf.Tensor2D): tf.Tensor2D => tf.mul(tf.tanh(tf.matMul(rows, ws)), P);
          const mine = (xs: tf.Tensor, s: tf.Tensor, ws: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(combinePaddedRows(ffn(gatherPaddedRows(m2(xs), maps), m2(ws)), m2(s), gateIds, maps), R));
          const ref = (xs: tf.Tensor, s: tf.Tensor, ws: tf.Tensor): tf.Scalar => {
            const rowTokens = Int32Array.from(pad.tokenIds, (t) => (t === n ? 0 : t));
            const y = ffn(gatherRows(m2(xs), rowTokens, 'kernels'), m2(ws));
            return tf.sum(tf.mul(scatterAddRows(weightRows(y, gatherRows(m2(s), gateIds, 'kernels'), maps.mask), rowTokens, n, 'kernels'), R));
          };
          expect(maxAbsDiff(mine(x, src, w), ref(x, src, w)), 'value').toBeLessThan(1e-5);
          const gm = tf.grads(mine)([x, src, w]);
          const gr = tf.grads(ref)([x, src, w]);
          ['x', 'gate source', 'weight'].forEach((name, i) => expect(maxAbsDiff(gm[i] as tf.Tensor, gr[i] as tf.Tensor), `gradient of the ${name}`).toBeLessThan(1e-5));
        });
      });
    }

    it('each move\'s own gradient, by hand: padding rows pass none, dropped slots read zeros', () => {
      tf.tidy(() => {
        // 3 tokens, top-1, experts 0 and 1, capacity 1: token 0 -> expert 0, token 1 -> expert 1,
        // token 2 -> expert 0 (dropped). Rows: [token 0 (expert 0), token 1 (expert 1)], no padding.
        const pad = padDispatch(planDispatch([0, 1, 0], 1, 2, 1)) as PaddedDispatch;
        expect(Array.from(pad.tokenIds)).toEqual([0, 1]);
        const maps = paddedRowMaps(pad, 3, 1);
        expect(Array.from(maps.slotRows)).toEqual([0, 1, 2]); // slot 2 dropped: row m = 2, the zero row
        const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
        expect(Array.from(gatherPaddedRows(x, maps).dataSync())).toEqual([1, 2, 3, 4]);
        const R = tf.tensor2d([[10, 20], [30, 40]]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherPaddedRows(m2(t), maps), R)))(x);
        expect(Array.from(dx.dataSync())).toEqual([10, 20, 30, 40, 0, 0]); // token 2 was dropped
        // Combine: out[t] = g · y[row]; gates from [n, 1] gates, ids = slots 0 and 1.
        const y = tf.tensor2d([[1, 2], [3, 4]]);
        const g = tf.tensor2d([[0.5], [2], [7]]);
        const ids = Int32Array.from([0, 1]);
        expect(Array.from(combinePaddedRows(y, g, ids, maps).dataSync())).toEqual([0.5, 1, 6, 8, 0, 0]);
        const dOut = tf.tensor2d([[1, -1], [2, 3], [9, 9]]);
        const [dy, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(combinePaddedRows(m2(a), m2(b), ids, maps), dOut)))([y, g]);
        expect(Array.from((dy as tf.Tensor).dataSync())).toEqual([0.5, -0.5, 4, 6]); // g · dout[token]
        expect(Array.from((dg as tf.Tensor).dataSync())).toEqual([-1, 18, 0]); // <dout[t], y[row]>; no row reads gate 2
      });
    });

    it('a padding row reads token 0 but passes it no gradient', () => {
      tf.tidy(() => {
        // top-1, 3 tokens to experts [0, 0, 1]: C = 2, rows [t0, t1 | t2, padding].
        const pad = padDispatch(planDispatch([0, 0, 1], 1, 2, Infinity)) as PaddedDispatch;
        const maps = paddedRowMaps(pad, 3, 1);
        expect(Array.from(maps.rowTokens)).toEqual([0, 1, 2, 0]);
        expect(Array.from(maps.mask ?? [])).toEqual([1, 1, 1, 0]);
        const x = tf.tensor2d([[1], [2], [3]]);
        expect(Array.from(gatherPaddedRows(x, maps).dataSync())).toEqual([1, 2, 3, 1]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherPaddedRows(m2(t), maps), tf.tensor2d([[1], [10], [100], [1000]]))))(x);
        expect(Array.from(dx.dataSync())).toEqual([1, 10, 100]);
      });
    });

    it('leaks nothing over a forward and backward', () => {
      const { pad, gateIds, F, n } = layout(CASES[1] as Case);
      const maps = paddedRowMaps(pad, n, 2);
      const x = tf.ones<tf.Rank.R2>([n, 2]);
      const s = tf.ones<tf.Rank.R2>([F, 1]);
      for (let i = 0; i < 3; i++) {
        expectNoLeak(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(combinePaddedRows(gatherPaddedRows(m2(a), maps), m2(b), gateIds, maps)))([x, s]), `step ${i}`);
      }
      tf.dispose([x, s]);
    });

    it('names the argument and the value when the inputs do not match the maps', () => {
      const { pad, gateIds, F, n } = layout(CASES[0] as Case);
      const maps = paddedRowMaps(pad, n, 2);
      const m = pad.tokenIds.length;
      tf.tidy(() => {
        expect(() => gatherPaddedRows(tf.zeros<tf.Rank.R2>([n + 1, 2]), maps)).toThrow(`gatherPaddedRows: x has ${n + 1} rows, the maps ${n} tokens`);
        expect(() => combinePaddedRows(tf.zeros<tf.Rank.R2>([m - 1, 2]), tf.zeros<tf.Rank.R2>([F, 1]), gateIds, maps)).toThrow(`combinePaddedRows needs y [${m}, d]`);
        const bad = Int32Array.from(gateIds);
        bad[1] = F;
        expect(() => combinePaddedRows(tf.zeros<tf.Rank.R2>([m, 2]), tf.zeros<tf.Rank.R2>([F, 1]), bad, maps)).toThrow(`combinePaddedRows gate ids must be in [0, ${F}), got ${F} at row 1`);
      });
    });
  });
}

suite('cpu');
if (nativeInstalled()) suite('tensorflow');
