/** lib/train/curves: a training run's figure, loss and accuracy each on its own titled axis. */
import { describe, expect, it } from 'vitest';
import { trainingCurvesFigure } from '../lib/train/curves';

describe('trainingCurvesFigure', () => {
  it('puts the loss on a titled left axis and the accuracy on a titled right axis, per epoch from 1', () => {
    const fig = trainingCurvesFigure({ loss: [2.3, 1.1, 0.4], valAccuracy: [0.3, 0.8, 0.9] }, { title: 'teacher' });
    const [loss, acc] = fig.data as Array<{ name: string; x: number[]; yaxis?: string }>;
    expect(loss?.name).toBe('training loss');
    expect(loss?.x).toEqual([1, 2, 3]);
    expect(loss?.yaxis).toBeUndefined();
    expect(acc?.yaxis).toBe('y2');
    const layout = fig.layout as { yaxis: { title: { text: string } }; yaxis2: { title: { text: string }; side: string } };
    expect(layout.yaxis.title.text).toBe('training loss');
    expect(layout.yaxis2.title.text).toBe('validation accuracy');
    expect(layout.yaxis2.side).toBe('right');
    // the legend leaves the right side to the second axis's tick labels
    expect(fig.layout.legend).toMatchObject({ orientation: 'h', y: 1.02, yanchor: 'bottom' });
    expect(trainingCurvesFigure({ loss: [1], valAccuracy: [] }).data).toHaveLength(1); // no validation: one axis
  });
  it('rejects an empty run and curves of different lengths', () => {
    expect(() => trainingCurvesFigure({ loss: [], valAccuracy: [] })).toThrow(/^history\.loss must hold at least one epoch, got \[\]$/);
    expect(() => trainingCurvesFigure({ loss: [1, 2], valAccuracy: [0.5] })).toThrow(/^history\.valAccuracy must be empty or hold 2 epochs \(as loss\), got 1$/);
  });
});
