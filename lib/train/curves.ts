/**
 * The figure of a training run: the training loss against the left y axis and the validation
 * accuracy against a right one, each axis titled with its quantity, per epoch (from 1).
 */
import { lineFigure, type Figure, type LineSeries } from '../plot';
import type { TrainHistory } from './loop';

/**
 * Training loss (left axis) and, when there is one, validation accuracy (right axis) per epoch.
 * @example await show(trainingCurvesFigure(history, { title: 'teacher training' }));
 * @throws Error when `history.loss` is empty, or `valAccuracy` is neither empty nor as long as `loss`.
 */
export function trainingCurvesFigure(
  history: Pick<TrainHistory, 'loss' | 'valAccuracy'>,
  options: { title?: string } = {},
): Figure {
  const n = history.loss.length;
  if (n === 0) throw new Error('history.loss must hold at least one epoch, got []');
  const m = history.valAccuracy.length;
  if (m !== 0 && m !== n) throw new Error(`history.valAccuracy must be empty or hold ${n} epochs (as loss), got ${m}`);
  const epochs = history.loss.map((_, e) => e + 1);
  const series: LineSeries[] = [{ name: 'training loss', x: epochs, y: history.loss }];
  if (m > 0) series.push({ name: 'validation accuracy', x: epochs, y: history.valAccuracy, axis: 'right' });
  return lineFigure(series, {
    title: options.title,
    xTitle: 'epoch',
    yTitle: 'training loss',
    ...(m > 0 ? { y2Title: 'validation accuracy' } : {}),
  });
}
