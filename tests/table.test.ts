import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { formatCell, frame, tableHtml, tableText } from '../lib/table';
import { nodeRequire } from '../lib/node-require';

describe('tables from danfojs', () => {
  it('renders a DataFrame as an HTML table and aligned text', () => {
    const df = frame([
      { backend: 'wasm', gflops: 31.234567 },
      { backend: 'cpu', gflops: 1.05 },
    ]);
    const html = tableHtml(df, { caption: 'matmul <1024>' });
    expect(html).toContain('<caption>matmul &lt;1024&gt;</caption>');
    // Text left, numbers right; no 0..n-1 index column.
    expect(html).toContain('<tr><th style="text-align:left">backend</th><th style="text-align:right">gflops</th></tr>');
    expect(html).toContain('<td style="text-align:left">wasm</td><td style="text-align:right">31.23</td>');
    expect(tableText(df).split('\n')).toEqual(['backend  gflops', 'wasm      31.23', 'cpu        1.05']);
  });

  it('shows an index that says something, and always with index: true', () => {
    const named = { columns: ['n'], index: ['teacher', 'student'], values: [[85002], [610]] };
    expect(tableText(named).split('\n')).toEqual(['              n', 'teacher  85,002', 'student     610']);
    const df = frame([{ a: 1 }]);
    expect(tableHtml(df, { index: true })).toContain('<tr><th>0</th><td style="text-align:right">1</td></tr>');
    expect(tableHtml(df)).not.toContain('<th>0</th>');
  });

  it('writes thousands separators from 1,000 on', () => {
    expect(formatCell(85002)).toBe('85,002'); // integers in full
    expect(formatCell(-1234567)).toBe('-1,234,567');
    expect(formatCell(999)).toBe('999');
    expect(formatCell(1234.5678)).toBe('1,235'); // 4 significant digits
    expect(formatCell(0.5)).toBe('0.5');
    expect(formatCell(1234567890.5)).toBe('1.235e+9');
  });

  it('formats numbers to significant digits', () => {
    expect(formatCell(0.000012346)).toBe('1.235e-5');
    expect(formatCell(12)).toBe('12');
    expect(formatCell(2 / 3, 3)).toBe('0.667');
  });

  it('rejects rows whose keys differ, naming the row', () => {
    expect(() => frame([{ a: 1 }, { b: 2 }])).toThrow(/rows\[1\] has keys \["b"\], expected \["a"\]/);
    expect(() => frame([])).toThrow(/rows must hold at least one record, got 0/);
  });

  it('loads exactly one tfjs-core in the process, shared with danfojs', () => {
    frame([{ a: 1 }]); // loads danfojs-node
    const cores = new Set(
      Object.keys(nodeRequire.cache)
        .filter((p) => /[\\/]@tensorflow[\\/]tfjs-core[\\/]/.test(p))
        .map((p) => p.slice(0, p.indexOf('tfjs-core') + 'tfjs-core'.length)),
    );
    // danfojs must have loaded through require, so the CommonJS cache shows every copy.
    expect(Object.keys(nodeRequire.cache).some((p) => p.includes(`${path.sep}danfojs-node${path.sep}`))).toBe(true);
    expect([...cores]).toHaveLength(1);
    // danfojs's own tf is the same engine: a tensor it makes is counted by ours.
    const dfd = nodeRequire('danfojs-node') as { tensorflow: typeof tf };
    expect(dfd.tensorflow.engine()).toBe(tf.engine());
  });
});
