/**
 * Plots in lessons. Build a figure (`lineFigure`, `heatmapFigure`, `barFigure`,
 * `histogramFigure`, `scatterFigure`), then `await show(fig)`: one notebook output that carries
 * the plotly JSON (interactive in JupyterLab), a PNG rendered offline (classic Notebook, HTML
 * export, GitHub) and a text summary.
 */
import { randomBytes } from 'node:crypto';
import { displayBundle, inKernel, type MimeBundle } from '../display';
import { checkFigureOptions, describeFigure, type FigureLike } from './figure';
import { assertFigure, plainFigure, renderPng, type RenderOptions } from './render';

export { DEFAULT_HEIGHT, DEFAULT_WIDTH, PLOT_CONFIG, describeFigure } from './figure';
export type {
  BarTrace,
  Figure,
  FigureLike,
  FigureOptions,
  HeatmapTrace,
  HistogramTrace,
  NumericArray,
  PlotAxis,
  PlotConfig,
  PlotLayout,
  PlotTrace,
  ScatterTrace,
} from './figure';
export * from './builders';
export { CHROMIUM_ARGS, CHROMIUM_ENV, DEFAULT_CHROMIUM, closeRenderer, renderPng, rendererPid, rendererTimings } from './render';
export type { RenderOptions } from './render';

/** The MIME type of plotly figures in Jupyter. */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** Env var: `FRUGAL_PLOT_PNG=0` turns PNG rendering off. */
export const PLOT_PNG_ENV = 'FRUGAL_PLOT_PNG';

export interface ShowOptions extends RenderOptions {
  /** Render the PNG (default: true unless `FRUGAL_PLOT_PNG=0`). */
  png?: boolean;
  /** With `update: true`, replaces the earlier output shown with this id (live plots). */
  displayId?: string;
  update?: boolean;
}

/**
 * The MIME bundle `show` displays: plotly JSON, a PNG (unless turned off) and a text summary.
 * When the PNG cannot be rendered (no Chromium, a crash), the summary says why in one line.
 *
 * @throws {Error} if `fig` is not a plotly figure, or width/height are not positive integers.
 */
export async function figureBundle(fig: FigureLike, options: ShowOptions = {}): Promise<MimeBundle> {
  assertFigure(fig);
  checkFigureOptions(options);
  const json = plainFigure(fig);
  const bundle: MimeBundle = { [PLOTLY_MIME]: json };
  let text = describeFigure(json);
  const png = options.png ?? process.env[PLOT_PNG_ENV] !== '0';
  if (png) {
    try {
      bundle['image/png'] = (await renderPng(json, options)).toString('base64');
    } catch (e) {
      text += `\n(no PNG: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
    }
  }
  bundle['text/plain'] = text;
  return bundle;
}

/**
 * Displays a figure as one notebook output (plotly JSON + PNG + text; see `figureBundle`). Await
 * it in the cell: `await show(lineFigure({ loss }))`. It returns nothing, so that the kernel does
 * not show the figure a second time as the cell's value; keep the figure in a variable to reuse
 * it. Outside a kernel the text summary goes to stdout. A missing or failing Chromium never
 * throws: the PNG is left out.
 *
 * In a kernel the output is sent twice: first without the PNG, then updated in place with it.
 * JupyterLab's plotly renderer (jupyterlab-plotly) shows a bundle's `image/png` instead of the
 * interactive plot until the mouse first passes over it; sent first without one, the figure is
 * interactive at once, and the renderer keeps its plot when the update brings the PNG. The saved
 * notebook holds the full bundle, so the classic Notebook, nbconvert and GitHub show the PNG.
 *
 * @throws {Error} if `fig` is not a plotly figure, or width/height are not positive integers.
 */
export async function show(fig: FigureLike, options: ShowOptions = {}): Promise<void> {
  const png = options.png ?? process.env[PLOT_PNG_ENV] !== '0';
  if (png && !options.update && inKernel()) {
    const displayId = options.displayId ?? `frugal-plot-${randomBytes(8).toString('hex')}`;
    displayBundle(await figureBundle(fig, { ...options, png: false }), { displayId });
    displayBundle(await figureBundle(fig, options), { displayId, update: true });
    return;
  }
  const bundle = await figureBundle(fig, options);
  displayBundle(bundle, { displayId: options.displayId, update: options.update });
}
