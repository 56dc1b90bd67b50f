/**
 * A live progress display for long cells (training loops): a bar, the step, the latest metrics
 * and a small loss curve, updated in place in the notebook. Usable from any loop:
 *
 * ```ts
 * const p = new Progress({ total: epochs, label: 'student' });
 * for (let e = 1; e <= epochs; e++) { ...; p.update(e, { loss, acc }); }
 * p.done();
 * ```
 *
 * Updates are throttled (default 4 per second) so that a fast loop is not slowed by display.
 * Outside a kernel, a line goes to stdout every 10 % of the run. `done()` collapses the display
 * to one summary line (steps, time, each metric's first → last value), so that finished runs do
 * not pile up above the figure they feed.
 */
import { randomBytes } from 'node:crypto';
import { displayBundle, inKernel } from './display';
import { escapeHtml } from './table';
import { assertPositiveInteger } from './assert';

export interface ProgressOptions {
  /** Number of steps in the run (epochs, batches). */
  total: number;
  /** What is running, shown before the bar. */
  label?: string;
  /** The metric drawn as a curve (default: the first metric given). */
  curve?: string;
  /** Minimum milliseconds between two redraws (default 250). */
  throttleMs?: number;
  /**
   * How the curve is drawn: `'line'` (default) joins the values, for steps of one run;
   * `'points'` draws them apart, for independent runs (seeds), which are not a trend. The
   * summary then gives the mean and the range instead of first → last.
   */
  sparkline?: 'line' | 'points';
}

export class Progress {
  readonly total: number;
  readonly label: string;
  /** Every metric value received, by name, in step order. */
  readonly history: Record<string, number[]> = {};
  /** The steps at which metrics were received. */
  readonly steps: number[] = [];
  private readonly id = randomBytes(8).toString('hex');
  private readonly throttleMs: number;
  private readonly start = Date.now();
  private curve: string | undefined;
  private readonly mode: 'line' | 'points';
  private lastDraw = 0;
  private drawn = false;
  private lastLoggedDecile = -1;
  private step = 0;

  /** @throws Error when `total` is not a positive integer. */
  constructor(options: ProgressOptions) {
    assertPositiveInteger(options.total, 'total');
    this.total = options.total;
    this.label = options.label ?? 'progress';
    this.curve = options.curve;
    this.throttleMs = options.throttleMs ?? 250;
    const mode = options.sparkline ?? 'line';
    if (mode !== 'line' && mode !== 'points') throw new Error(`sparkline must be 'line' or 'points', got ${JSON.stringify(mode)}`);
    this.mode = mode;
  }

  /**
   * Records metrics at `step` (1-based, ≤ total) and redraws if the throttle allows.
   * @throws Error when `step` is out of range or a metric is not a finite number.
   */
  update(step: number, metrics: Record<string, number> = {}): void {
    if (!Number.isInteger(step) || step < 1 || step > this.total) {
      throw new Error(`step must be an integer in [1, ${this.total}], got ${step}`);
    }
    for (const [k, v] of Object.entries(metrics)) {
      if (!Number.isFinite(v)) throw new Error(`metric ${k} must be a finite number, got ${v} at step ${step}`);
      (this.history[k] ??= []).push(v);
    }
    this.curve ??= Object.keys(metrics)[0];
    this.steps.push(step);
    this.step = step;
    const now = Date.now();
    if (now - this.lastDraw >= this.throttleMs || step === this.total) this.draw(false);
  }

  /** Final redraw, with the elapsed time. */
  done(): void {
    this.draw(true);
  }

  /** Seconds since the display was created. */
  elapsed(): number {
    return (Date.now() - this.start) / 1000;
  }

  private latest(): string {
    return Object.entries(this.history)
      .map(([k, v]) => `${k}=${formatMetric(v[v.length - 1] ?? NaN)}`)
      .join('  ');
  }

  /** The plain-text line for this state; when `final`, the one-line summary. */
  text(final = false): string {
    if (final) return this.summary();
    const frac = this.step / this.total;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'█'.repeat(filled)}${'·'.repeat(width - filled)}`;
    return `${this.label} ${bar} ${this.step}/${this.total}  ${this.latest()}  ${this.elapsed().toFixed(1)} s`;
  }

  /**
   * The one line a finished run leaves: `label: 40/40 in 36.0 s · loss 2.301 → 0.007586`, or
   * with `sparkline: 'points'` the mean and range of each metric over the runs.
   */
  summary(): string {
    const parts = Object.entries(this.history).map(([k, v]) => {
      if (v.length === 0) return k;
      if (this.mode === 'points') {
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        return `${k} mean ${formatMetric(mean)} (${formatMetric(Math.min(...v))} to ${formatMetric(Math.max(...v))})`;
      }
      return v.length > 1 ? `${k} ${formatMetric(v[0] ?? NaN)} → ${formatMetric(v[v.length - 1] ?? NaN)}` : `${k} ${formatMetric(v[0] ?? NaN)}`;
    });
    return [`${this.label}: ${this.step}/${this.total} in ${this.elapsed().toFixed(1)} s`, ...parts].join(' · ');
  }

  /**
   * The HTML view: bar, metrics and an inline SVG curve of the tracked metric with its scale
   * (max at the top, min at the bottom, the steps it spans). When `final`, the one-line summary.
   */
  html(final = false): string {
    const style = 'font-family:monospace;font-size:12px';
    if (final) return `<div class="frugal-progress-done" style="${style};color:#444">✓ ${escapeHtml(this.summary())}</div>`;
    const pct = ((100 * this.step) / this.total).toFixed(1);
    const curve = this.curve ? this.history[this.curve] ?? [] : [];
    const svg = sparkline(curve, 240, 48, { points: this.mode === 'points' });
    const scale =
      curve.length > 0
        ? `<span style="display:inline-flex;flex-direction:column;justify-content:space-between;height:48px;vertical-align:middle;color:#666">` +
          `<span>${escapeHtml(formatMetric(Math.max(...curve)))}</span><span>${escapeHtml(formatMetric(Math.min(...curve)))}</span></span>`
        : '';
    const what = this.curve ? `${this.curve}, ${this.mode === 'points' ? 'one point per run' : 'steps'} ${this.steps[0] ?? 1}–${this.step}` : '';
    return (
      `<div style="${style}">` +
      `<div><b>${escapeHtml(this.label)}</b> ${this.step}/${this.total} · ${escapeHtml(this.latest())} · ${this.elapsed().toFixed(1)} s</div>` +
      `<div style="width:240px;height:8px;background:#eee;margin:3px 0">` +
      `<div style="width:${pct}%;height:8px;background:#1f77b4"></div></div>` +
      (this.curve ? `<div>${svg} ${scale} <span style="color:#666">${escapeHtml(what)}</span></div>` : '') +
      `</div>`
    );
  }

  private draw(final: boolean): void {
    this.lastDraw = Date.now();
    if (inKernel()) {
      displayBundle({ 'text/html': this.html(final), 'text/plain': this.text(final) }, { displayId: this.id, update: this.drawn });
      this.drawn = true;
      return;
    }
    const decile = Math.floor((10 * this.step) / this.total);
    if (final || decile > this.lastLoggedDecile) {
      this.lastLoggedDecile = decile;
      process.stdout.write(`${this.text(final)}\n`);
    }
  }
}

function formatMetric(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
}

/**
 * An inline SVG of `values` scaled to the box: a polyline, or with `points: true` one dot per
 * value (independent runs, not a trend). Empty box for no value, and for 1 value as a line.
 */
export function sparkline(values: readonly number[], width: number, height: number, options: { points?: boolean } = {}): string {
  const box = `<svg width="${width}" height="${height}" style="vertical-align:middle;background:#fafafa">`;
  if (values.length < (options.points ? 1 : 2)) return `${box}</svg>`;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const xy = values.map((v, i) => {
    const x = values.length === 1 ? width / 2 : (i / (values.length - 1)) * (width - 4) + 2;
    const y = hi === lo ? height / 2 : height - 2 - ((v - lo) / span) * (height - 4);
    return [x.toFixed(1), y.toFixed(1)] as const;
  });
  if (options.points) {
    return `${box}${xy.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="2.5" fill="#1f77b4"/>`).join('')}</svg>`;
  }
  return `${box}<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${xy.map(([x, y]) => `${x},${y}`).join(' ')}"/></svg>`;
}
