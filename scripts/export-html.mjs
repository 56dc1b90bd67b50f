#!/usr/bin/env node
// @ts-check
/**
 * Converts an executed notebook into one self-contained, interactive HTML page.
 *
 *   node scripts/export-html.mjs <executed.ipynb> [out.html]     (default out/html/<name>.html)
 *
 * 1. In a temporary copy of the notebook, every output that carries plotly JSON
 *    (`application/vnd.plotly.v1+json`, see lib/plot) gets a `text/html` part: a div, a
 *    `Plotly.newPlot` script, and its PNG inside <noscript> as the fallback when JS is off.
 * 2. `jupyter nbconvert --to html` (lab template, minus the CDN scripts: require.js, MathJax,
 *    widgets) turns that copy into HTML.
 * 3. plotly.js (node_modules/plotly.js-dist-min) is inlined once into the <head>, only when the
 *    page has figures. Nothing is fetched from a CDN.
 *
 * The page is written atomically (temp file, then rename). Exit code 1 with a message on failure.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './lib/env.mjs';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PLOTLY_JS = createRequire(path.join(ROOT, 'package.json')).resolve('plotly.js-dist-min');
/** Where plotly.js goes: the template writes this marker in <head> instead of CDN scripts. */
const MARKER = '<!-- frugal:plotly.js -->';
/** The lab template without its CDN scripts (require.js, MathJax, widget manager). */
const TEMPLATE = `{%- extends 'index.html.j2' -%}
{% block html_head_js %}${MARKER}{% endblock html_head_js %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
`;

/**
 * Every output of the notebook's code cells.
 * @param {import('./lib/env.mjs').Notebook} nb
 */
function outputsOf(nb) {
  return (nb.cells ?? []).flatMap((c) => (c.cell_type === 'code' ? (c.outputs ?? []) : []));
}

/**
 * The number of outputs carrying a plotly figure.
 * @param {import('./lib/env.mjs').Notebook} nb
 */
export function countPlotlyOutputs(nb) {
  return outputsOf(nb).filter((o) => o.data?.[PLOTLY_MIME] !== undefined).length;
}

/**
 * JSON that is safe inside <script>: no `</script>`, no line separators that end JS strings.
 * @param {unknown} value
 */
function scriptJson(value) {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * Adds a `text/html` part (div + `Plotly.newPlot` + <noscript> PNG) to every plotly output, in place.
 * @param {import('./lib/env.mjs').Notebook} nb
 * @returns the number of figures.
 */
export function addPlotlyHtml(nb) {
  let n = 0;
  for (const out of outputsOf(nb)) {
    const raw = out.data?.[PLOTLY_MIME];
    if (raw === undefined || out.data === undefined) continue;
    const fig = typeof raw === 'string' ? JSON.parse(raw) : raw;
    const id = `frugal-plot-${n++}`;
    const png = out.data['image/png'];
    const fallback = typeof png === 'string' ? `<noscript><img alt="figure" src="data:image/png;base64,${png.replace(/\s/g, '')}"></noscript>` : '';
    // data-plot="done" or "error" on the div tells browser-check the figure is settled.
    out.data['text/html'] =
      `<div class="frugal-plot" id="${id}"></div>${fallback}\n` +
      `<script>(function () {\n` +
      `  var el = document.getElementById(${JSON.stringify(id)});\n` +
      `  var fig = ${scriptJson(fig)};\n` +
      `  function fail(e) { el.setAttribute('data-plot', 'error'); console.error('plotly figure ${id}: ' + (e && e.message || e)); }\n` +
      `  try { Plotly.newPlot(el, fig.data, fig.layout || {}, { displaylogo: false }).then(function () { el.setAttribute('data-plot', 'done'); }, fail); }\n` +
      `  catch (e) { fail(e); }\n` +
      `})();</script>`;
  }
  return n;
}

/**
 * Exports `nbPath` to `outPath` (default out/html/<name>.html).
 * @returns {{ outPath: string, figures: number }}
 * @param {string} nbPath
 * @param {string} [outPath]
 * @throws {Error} if the notebook cannot be read or nbconvert fails.
 */
export function exportHtml(nbPath, outPath) {
  const name = path.basename(nbPath, '.ipynb');
  const out = path.resolve(outPath ?? path.join(ROOT, 'out', 'html', `${name}.html`));
  const nb = JSON.parse(fs.readFileSync(nbPath, 'utf8'));
  const figures = addPlotlyHtml(nb);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-export-'));
  try {
    fs.writeFileSync(path.join(tmp, `${name}.ipynb`), JSON.stringify(nb));
    fs.writeFileSync(path.join(tmp, 'frugal.html.j2'), TEMPLATE);
    const args = ['nbconvert', '--to', 'html', '--template-file', path.join(tmp, 'frugal.html.j2'),
      '--output-dir', tmp, '--output', name, '--log-level', 'WARN', path.join(tmp, `${name}.ipynb`)];
    const r = spawnSync('jupyter', args, { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`jupyter nbconvert failed on ${nbPath} (exit ${r.status ?? r.error?.message}):\n${(r.stderr ?? '').slice(-2000)}`);
    }
    const html = fs.readFileSync(path.join(tmp, `${name}.html`), 'utf8');
    if (!html.includes(MARKER)) throw new Error(`the nbconvert template lost the plotly.js marker ${MARKER}`);
    const plotly = figures > 0 ? `<script>\n${fs.readFileSync(PLOTLY_JS, 'utf8')}\n</script>` : '';
    // A function replacement: plotly.min.js holds `$&`-like patterns that a string would expand.
    writeFileAtomic(out, html.replace(MARKER, () => plotly));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { outPath: out, figures };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [nbPath, outPath] = process.argv.slice(2);
  if (!nbPath) {
    console.error('usage: node scripts/export-html.mjs <executed.ipynb> [out.html]');
    process.exit(2);
  }
  try {
    const t0 = Date.now();
    const { outPath: written, figures } = exportHtml(nbPath, outPath);
    console.log(`${path.relative(process.cwd(), written)}: ${figures} interactive figure(s), ${Date.now() - t0} ms`);
  } catch (e) {
    console.error(`export-html: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
