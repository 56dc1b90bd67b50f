// @ts-check
// The course as a browsable offline book: an index (the course map and the results), one page
// per executed lesson with navigation, plotly.js and KaTeX copied once into assets/.
//
//   node scripts/book.mjs [executed-notebooks-dir] [out-dir]
//     (default out/reproduce/notebooks -> out/reproduce/book; npm run reproduce calls it)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countFormulas, countPlotlyOutputs, exportHtml, writeAssets } from './export-html.mjs';
import { ROOT, writeFileAtomic } from './lib/env.mjs';
import { formatSeconds, lessonInfo } from './lib/course.mjs';

/**
 * Escapes text for HTML.
 * @param {unknown} s
 */
const escapeHtml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const CSS = `
.frugal-nav { position: sticky; top: 0; z-index: 10; display: flex; gap: 1.5em; align-items: center;
  padding: 8px 16px; background: #f7f9fc; border-bottom: 1px solid #dde3ee; font: 14px sans-serif; }
.frugal-nav a { color: #1f5fa8; text-decoration: none; }
.frugal-nav .here { font-weight: bold; flex: 1; }
.frugal-book { max-width: 1000px; margin: 24px auto; font: 15px/1.5 sans-serif; color: #222; padding: 0 16px; }
.frugal-book table { border-collapse: collapse; margin: 12px 0; }
.frugal-book th, .frugal-book td { border-bottom: 1px solid #e3e7ef; padding: 4px 10px; text-align: left; vertical-align: top; }
.frugal-book td.num { text-align: right; font-variant-numeric: tabular-nums; }
`;

/** @typedef {{ href: string, text: string }} Link */

/**
 * The navigation bar: contents, where the reader is, previous and next lesson.
 * @param {{ prev?: Link | null, next?: Link | null }} links
 * @param {string} here
 */
function nav(links, here) {
  /** @param {Link | null | undefined} l */
  const a = (l) => (l ? `<a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a>` : '<span></span>');
  return `<nav class="frugal-nav">${a({ href: 'index.html', text: '⌂ Contents' })}<span class="here">${escapeHtml(here)}</span>${a(links.prev)}${a(links.next)}</nav>`;
}

/**
 * A whole HTML page.
 * @param {string} title
 * @param {string} body
 */
function page(title, body, meta = '') {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="assets/book.css">${meta}</head>
<body>${body}</body></html>
`;
}

/**
 * Builds the book in `outDir` from the executed notebooks in `nbDir`.
 * @param {string} nbDir
 * @param {string} outDir
 * @param {{times?: Record<string, number>, resultsHtml?: string, fallbackGoals?: Record<string, string>}} [extra]
 *   lesson wall times (seconds, by lesson id), the results table for the index, and what a
 *   lesson teaches when its introduction lists no goals (the README's lessons table).
 * @returns {{pages: string[], figures: number, formulas: number}}
 */
export function buildBook(nbDir, outDir, extra = {}) {
  const files = readdirSync(nbDir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no executed lessons in ${nbDir}`);
  writeAssets(join(outDir, 'assets'), CSS);
  const infos = files.map((f) => lessonInfo(join(nbDir, f)));
  /** @type {string[]} */
  const pages = [];
  let figures = 0;
  let formulas = 0;
  infos.forEach((l, i) => {
    const file = join(nbDir, /** @type {string} */ (files[i]));
    const prev = infos[i - 1];
    const next = infos[i + 1];
    const links = {
      prev: prev ? { href: `${prev.name}.html`, text: `← ${prev.id} ${prev.title}` } : null,
      next: next ? { href: `${next.name}.html`, text: `${next.id} ${next.title} →` } : null,
    };
    const header = nav(links, `${l.id} · ${l.title}`);
    const out = join(outDir, `${l.name}.html`);
    // The page's counts go first in <body>, so that browser-check knows what to expect.
    const nb = /** @type {import('./lib/env.mjs').Notebook} */ (JSON.parse(readFileSync(file, 'utf8')));
    const meta = `<meta name="frugal-figures" content="${countPlotlyOutputs(nb)}"><meta name="frugal-formulas" content="${countFormulas(nb)}">`;
    const footer = `<div style="margin:32px 0">${nav(links, '')}</div>`;
    const r = exportHtml(file, out, { assetsHref: 'assets', title: `${l.id} · ${l.title} — frugal-ai`, header: `${meta}${header}`, footer });
    figures += r.figures;
    formulas += r.formulas;
    pages.push(out);
  });
  const rows = infos
    .map((l) => {
      const t = extra.times?.[l.id];
      const deps = l.dependsOn.length ? l.dependsOn.join(', ') : '—';
      const fallback = extra.fallbackGoals?.[l.id];
      const list = l.goals.length ? l.goals : fallback ? [fallback] : [];
      /** @param {string} g */
      const inline = (g) => escapeHtml(g).replace(/`([^`]+)`/g, '<code>$1</code>');
      const goals = list.length ? `<ul>${list.map((g) => `<li>${inline(g)}</li>`).join('')}</ul>` : '';
      return `<tr><td>${l.id}</td><td><a href="${l.name}.html">${escapeHtml(l.title)}</a>${goals}</td><td class="num">${t === undefined ? '?' : formatSeconds(t)}</td><td>${deps}</td></tr>`;
    })
    .join('\n');
  const body = `${nav({}, 'frugal-ai: doing more with less compute')}
<main class="frugal-book">
<h1>frugal-ai</h1>
<p>A TypeScript course on doing more with less compute: distillation, Mixture-of-Experts, latent
attention and RL with rule-based rewards, on TensorFlow.js. Every page below is a lesson as
<code>npm run reproduce</code> executed it; the figures are interactive. This book works offline.</p>
<h2>Lessons</h2>
<table><thead><tr><th>#</th><th>Lesson and what it teaches</th><th>Time</th><th>Builds on</th></tr></thead>
<tbody>${rows}</tbody></table>
${extra.resultsHtml ? `<h2 id="results">Key figures</h2>\n${extra.resultsHtml}` : ''}
</main>`;
  writeFileAtomic(join(outDir, 'index.html'), page('frugal-ai — contents', body, '<meta name="frugal-figures" content="0"><meta name="frugal-formulas" content="0">'));
  return { pages: [join(outDir, 'index.html'), ...pages], figures, formulas };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const nbDir = resolve(process.argv[2] ?? join(ROOT, 'out', 'reproduce', 'notebooks'));
  const outDir = resolve(process.argv[3] ?? join(ROOT, 'out', 'reproduce', 'book'));
  if (!existsSync(nbDir)) {
    console.error(`book: no folder ${nbDir} (run npm run reproduce)`);
    process.exit(1);
  }
  const t0 = Date.now();
  const r = buildBook(nbDir, outDir);
  console.log(`book: ${r.pages.length} page(s), ${r.figures} figure(s), ${r.formulas} formula(s) in ${basename(outDir)}/ (${Date.now() - t0} ms)`);
}
