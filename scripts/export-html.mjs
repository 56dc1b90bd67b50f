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
 *    page has figures; KaTeX (node_modules/katex: script, auto-render and CSS with its woff2
 *    fonts as data URLs) only when its markdown has maths (`$…$`, `$$…$$`). Nothing is fetched
 *    from a CDN. The book (scripts/book.mjs) instead links both from one shared assets folder.
 * 4. Formulas are typeset in the browser by KaTeX's auto-render, in markdown cells only;
 *    `document.body` gets data-math="done" (or "error") when it has finished.
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
const requireHere = createRequire(path.join(ROOT, 'package.json'));
const PLOTLY_JS = requireHere.resolve('plotly.js-dist-min');
/** KaTeX's dist folder (katex.min.js, contrib/auto-render.min.js, katex.min.css, fonts/). */
export const KATEX_DIR = path.join(path.dirname(requireHere.resolve('katex/package.json')), 'dist');
/** Where plotly.js goes: the template writes this marker in <head> instead of CDN scripts. */
const MARKER = '<!-- frugal:plotly.js -->';
/** The lab template without its CDN scripts (require.js, MathJax, widget manager). */
const TEMPLATE = `{%- extends 'index.html.j2' -%}
{% block html_head_js %}${MARKER}{% endblock html_head_js %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
`;

/**
 * Markdown with its code (fenced, inline) removed.
 * @param {string} md
 */
function proseOf(md) {
  return md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '').replace(/\\\$/g, '');
}

/**
 * The number of formulas in the notebook's markdown cells: `$$…$$` and `$…$` outside code, the
 * way KaTeX's auto-render finds them. browser-check expects one rendered formula for each.
 * @param {import('./lib/env.mjs').Notebook} nb
 */
export function countFormulas(nb) {
  let n = 0;
  for (const c of nb.cells ?? []) {
    if (c.cell_type !== 'markdown') continue;
    const src = proseOf(Array.isArray(c.source) ? c.source.join('') : (c.source ?? ''));
    // An inline formula may wrap onto the next line of its paragraph, as KaTeX's auto-render allows;
    // a blank line ends it.
    n += (src.match(/\$\$[\s\S]+?\$\$|\$(?:[^$\n]|\n(?!\s*\n))+?\$/g) ?? []).length;
  }
  return n;
}

/** The script that typesets the markdown cells' maths with KaTeX's auto-render when the page loads. */
const MATH_SCRIPT = `<script>(function () {
  function run() {
    try {
      if (typeof renderMathInElement !== 'function') throw new Error('KaTeX auto-render did not load');
      document.querySelectorAll('.jp-MarkdownOutput, .jp-RenderedMarkdown, .frugal-markdown').forEach(function (el) {
        renderMathInElement(el, {
          delimiters: [
            { left: '$$', right: '$$', display: true },
            { left: '\\\\[', right: '\\\\]', display: true },
            { left: '$', right: '$', display: false },
            { left: '\\\\(', right: '\\\\)', display: false },
          ],
          throwOnError: false,
          errorCallback: function (msg, err) { console.error('formula: ' + msg + ' ' + (err && err.message || '')); },
        });
      });
      document.body.setAttribute('data-math', 'done');
    } catch (e) {
      document.body.setAttribute('data-math', 'error');
      console.error('maths: ' + (e && e.message || e));
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run); else run();
})();</script>`;

/** KaTeX's CSS with its woff2 fonts inlined as data URLs (the woff and ttf fallbacks dropped). */
function katexInlineCss() {
  const css = fs.readFileSync(path.join(KATEX_DIR, 'katex.min.css'), 'utf8');
  return css.replace(/src:([^;}]*)/g, (all, list) => {
    const woff2 = list.match(/url\((fonts\/[^)]+\.woff2)\)/);
    if (!woff2) return all;
    const data = fs.readFileSync(path.join(KATEX_DIR, woff2[1])).toString('base64');
    return `src:url(data:font/woff2;base64,${data}) format("woff2")`;
  });
}

/**
 * The <head> scripts and styles of a page: inline copies (a standalone page), or links to a
 * shared assets folder (`assetsHref`, the book).
 * @param {{ figures: number, formulas: number, assetsHref?: string }} o
 */
function headAssets({ figures, formulas, assetsHref }) {
  const parts = [];
  if (assetsHref) {
    parts.push(`<link rel="stylesheet" href="${assetsHref}/katex/katex.min.css">`);
    parts.push(`<script src="${assetsHref}/katex/katex.min.js"></script>`);
    parts.push(`<script src="${assetsHref}/katex/contrib/auto-render.min.js"></script>`);
    parts.push(`<script src="${assetsHref}/plotly.min.js"></script>`);
    parts.push(`<link rel="stylesheet" href="${assetsHref}/book.css">`);
    return parts.join('\n');
  }
  if (formulas > 0) {
    parts.push(`<style>\n${katexInlineCss()}\n</style>`);
    parts.push(`<script>\n${fs.readFileSync(path.join(KATEX_DIR, 'katex.min.js'), 'utf8')}\n</script>`);
    parts.push(`<script>\n${fs.readFileSync(path.join(KATEX_DIR, 'contrib', 'auto-render.min.js'), 'utf8')}\n</script>`);
  }
  if (figures > 0) parts.push(`<script>\n${fs.readFileSync(PLOTLY_JS, 'utf8')}\n</script>`);
  return parts.join('\n');
}

/**
 * Copies plotly.js, KaTeX (script, auto-render, CSS, fonts) and `css` into `dir` (the book's
 * assets folder), once for every page.
 * @param {string} dir
 * @param {string} [css]
 */
export function writeAssets(dir, css = '') {
  fs.mkdirSync(path.join(dir, 'katex', 'contrib'), { recursive: true });
  fs.copyFileSync(PLOTLY_JS, path.join(dir, 'plotly.min.js'));
  for (const f of ['katex.min.js', 'katex.min.css', path.join('contrib', 'auto-render.min.js')]) {
    fs.copyFileSync(path.join(KATEX_DIR, f), path.join(dir, 'katex', f));
  }
  fs.cpSync(path.join(KATEX_DIR, 'fonts'), path.join(dir, 'katex', 'fonts'), { recursive: true });
  writeFileAtomic(path.join(dir, 'book.css'), css);
}

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
      `  try { Plotly.newPlot(el, fig.data, fig.layout || {}, Object.assign({ displaylogo: false }, fig.config || {})).then(function () { el.setAttribute('data-plot', 'done'); }, fail); }\n` +
      `  catch (e) { fail(e); }\n` +
      `})();</script>`;
  }
  return n;
}

/**
 * Exports `nbPath` to `outPath` (default out/html/<name>.html).
 * @param {string} nbPath
 * @param {string} [outPath]
 * @param {object} [options]
 * @param {string} [options.assetsHref] link plotly.js and KaTeX from this folder (relative to the
 *   page) instead of inlining them (the book).
 * @param {string} [options.header] HTML inserted at the top of <body> (the book's navigation).
 * @param {string} [options.footer] HTML inserted at the end of <body>.
 * @param {string} [options.title] the page's <title>.
 * @returns {{ outPath: string, figures: number, formulas: number }}
 * @throws {Error} if the notebook cannot be read or nbconvert fails.
 */
export function exportHtml(nbPath, outPath, options = {}) {
  const name = path.basename(nbPath, '.ipynb');
  const out = path.resolve(outPath ?? path.join(ROOT, 'out', 'html', `${name}.html`));
  const nb = JSON.parse(fs.readFileSync(nbPath, 'utf8'));
  const figures = addPlotlyHtml(nb);
  const formulas = countFormulas(nb);
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
    let html = fs.readFileSync(path.join(tmp, `${name}.html`), 'utf8');
    if (!html.includes(MARKER)) throw new Error(`the nbconvert template lost the plotly.js marker ${MARKER}`);
    const head = headAssets({ figures, formulas, assetsHref: options.assetsHref });
    // Function replacements: plotly.min.js holds `$&`-like patterns that a string would expand.
    html = html.replace(MARKER, () => head);
    if (options.title) html = html.replace(/<title>[^<]*<\/title>/, () => `<title>${options.title}</title>`);
    if (options.header) html = html.replace(/<body[^>]*>/, (b) => `${b}\n${options.header}`);
    const tail = `${options.footer ?? ''}\n${formulas > 0 || options.assetsHref ? MATH_SCRIPT : ''}`;
    html = html.replace(/<\/body>/, () => `${tail}\n</body>`);
    writeFileAtomic(out, html);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { outPath: out, figures, formulas };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [nbPath, outPath] = process.argv.slice(2);
  if (!nbPath) {
    console.error('usage: node scripts/export-html.mjs <executed.ipynb> [out.html]');
    process.exit(2);
  }
  try {
    const t0 = Date.now();
    const { outPath: written, figures, formulas } = exportHtml(nbPath, outPath);
    console.log(`${path.relative(process.cwd(), written)}: ${figures} interactive figure(s), ${formulas} formula(s), ${Date.now() - t0} ms`);
  } catch (e) {
    console.error(`export-html: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
