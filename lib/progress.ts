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
 * Outside a kernel, a line goes to stdout every 10 % of the run.
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

  /** The plain-text line for this state. */
  text(final = false): string {
    const frac = this.step / this.total;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'█'.repeat(filled)}${'·'.repeat(width - filled)}`;
    const t = `${this.elapsed().toFixed(1)} s`;
    return `${this.label} ${bar} ${this.step}/${this.total}  ${this.latest()}  ${final ? 'done in ' : ''}${t}`;
  }

  /** The HTML view: bar, metrics and an inline SVG curve of the tracked metric. */
  html(final = false): string {
    const pct = ((100 * this.step) / this.total).toFixed(1);
    const curve = this.curve ? this.history[this.curve] ?? [] : [];
    const svg = sparkline(curve, 240, 48);
    const t = `${final ? 'done in ' : ''}${this.elapsed().toFixed(1)} s`;
    return (
      `<div style="font-family:monospace;font-size:12px">` +
      `<div><b>${escapeHtml(this.label)}</b> ${this.step}/${this.total} · ${escapeHtml(this.latest())} · ${t}</div>` +
      `<div style="width:240px;height:8px;background:#eee;margin:3px 0">` +
      `<div style="width:${pct}%;height:8px;background:#1f77b4"></div></div>` +
      (this.curve ? `<div>${svg} <span style="color:#666">${escapeHtml(this.curve)}</span></div>` : '') +
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

/** An inline SVG polyline of `values`, scaled to the box. Empty box for fewer than 2 values. */
export function sparkline(values: readonly number[], width: number, height: number): string {
  const box = `<svg width="${width}" height="${height}" style="vertical-align:middle;background:#fafafa">`;
  if (values.length < 2) return `${box}</svg>`;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const pts = values
    .map((v, i) => {
      const x = (i / (values.length - 1)) * (width - 4) + 2;
      const y = height - 2 - ((v - lo) / span) * (height - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return `${box}<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${pts}"/></svg>`;
}
