#!/usr/bin/env node
// @ts-check
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Checks executed notebooks the way a reader sees them: exports each to HTML
 * (scripts/export-html.mjs), opens it in headless Chromium (Debian's, through playwright-core,
 * offline) and asserts that
 *   - every plotly output rendered (a `.frugal-plot` div holding `svg.main-svg`, one per output),
 *   - every formula of the markdown rendered (one `.katex` per `$…$` or `$$…$$`, no `.katex-error`),
 *   - no error output is shown (no error output in the notebook, no stderr output or
 *     `.output_error` containing 'Error'),
 *   - the page logged no error, threw nothing, and requested nothing from the network.
 * A full-page screenshot goes to out/screenshots/<name>.png.
 *
 *   node scripts/browser-check.mjs [executed.ipynb ...]     (default: out/lessons/*.ipynb)
 *   node scripts/browser-check.mjs --book <dir>              (the book of npm run reproduce)
 *
 * With --book, every page of the book (index.html and each page it links to) must load with no
 * error and no network request, every link must lead to a file of the book, and every figure and
 * formula a page announces (`<meta name="frugal-figures|frugal-formulas">`) must render.
 * Screenshots go to out/screenshots/book-<page>.png.
 *
 * Env: FRUGAL_CHROMIUM (default /usr/bin/chromium). Exit code 1 with a message per failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { countFormulas, countPlotlyOutputs, exportHtml } from './export-html.mjs';
import { writeFileAtomic } from './lib/env.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ERROR_OUTPUTS = '.output_error, .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
const RENDER_TIMEOUT_MS = 30_000;

/**
 * Checks one notebook in `browser`; returns the problems found (empty when it passes).
 * @param {import('playwright-core').Browser} browser
 * @param {string} nbPath
 */
async function checkNotebook(browser, nbPath) {
  const name = path.basename(nbPath, '.ipynb');
  const nb = /** @type {import('./lib/env.mjs').Notebook} */ (JSON.parse(fs.readFileSync(nbPath, 'utf8')));
  const expected = countPlotlyOutputs(nb);
  /** @type {string[]} */
  const problems = [];
  const errorOutputs = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error');
  for (const o of errorOutputs) problems.push(`error output in the notebook: ${o.ename ?? ''}: ${o.evalue ?? ''}`);

  const { outPath } = exportHtml(nbPath);
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  try {
    await openPage(page, outPath, problems);
    // Each figure's script sets data-plot="done" or "error" when plotly has settled.
    await page
      .waitForFunction(() => [...document.querySelectorAll('.frugal-plot')].every((d) => d.hasAttribute('data-plot')), null, { timeout: RENDER_TIMEOUT_MS })
      .catch(() => problems.push(`figures still not drawn after ${RENDER_TIMEOUT_MS} ms`));
    problems.push(...(await checkFormulas(page, countFormulas(nb))));
    const divs = await page.locator('.frugal-plot').count();
    const drawn = await page.$$eval('.frugal-plot', (divs) => divs.filter((d) => d.querySelector('svg.main-svg')).length);
    if (divs !== expected || drawn !== expected) {
      problems.push(`${expected} plotly output(s) in the notebook, ${divs} figure div(s) in the page, ${drawn} rendered (svg.main-svg)`);
    }
    const shownErrors = await page.$$eval(ERROR_OUTPUTS, (els) => els.map((e) => e.textContent ?? '').filter((t) => t.includes('Error')));
    for (const t of shownErrors) problems.push(`error shown in an output: ${t.trim().split('\n').slice(0, 3).join(' | ').slice(0, 300)}`);
    const shot = path.join(ROOT, 'out', 'screenshots', `${name}.png`);
    writeFileAtomic(shot, await page.screenshot({ fullPage: true }));
    return { name, expected, outPath, shot, problems };
  } finally {
    await page.close();
  }
}

/**
 * Opens a local page with every network request blocked (and reported), and errors recorded.
 * @param {import('playwright-core').Page} page
 * @param {string} file
 * @param {string[]} problems
 */
export async function openPage(page, file, problems) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  await page.route(/^(https?|wss?|ftp):/, (route) => {
    problems.push(`network request (blocked): ${route.request().url()}`);
    return route.abort();
  });
  page.on('requestfailed', (r) => {
    if (r.url().startsWith('file:')) problems.push(`missing file: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: RENDER_TIMEOUT_MS });
}

/**
 * Waits for KaTeX and checks that `expected` formulas rendered, none in error.
 * @param {import('playwright-core').Page} page
 * @param {number} expected
 */
export async function checkFormulas(page, expected) {
  /** @type {string[]} */
  const problems = [];
  if (expected === 0) return problems;
  await page
    .waitForFunction(() => document.body.hasAttribute('data-math'), null, { timeout: RENDER_TIMEOUT_MS })
    .catch(() => problems.push(`formulas still not typeset after ${RENDER_TIMEOUT_MS} ms`));
  const state = await page.evaluate(() => document.body.getAttribute('data-math'));
  if (state !== 'done') problems.push(`KaTeX did not run (data-math=${state})`);
  const rendered = await page.locator('.katex').count();
  const errors = await page.$$eval('.katex-error', (els) => els.map((e) => `${e.getAttribute('title') ?? ''} in ${e.textContent ?? ''}`));
  for (const e of errors) problems.push(`formula error: ${e.slice(0, 200)}`);
  if (rendered !== expected) problems.push(`${expected} formula(s) in the markdown, ${rendered} rendered by KaTeX`);
  return problems;
}

/**
 * The notebooks to check: the arguments, else out/lessons/*.ipynb.
 * @param {string[]} args
 */
function notebooks(args) {
  if (args.length) return args;
  const dir = path.join(ROOT, 'out', 'lessons');
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  return found.map((f) => path.join(dir, f));
}

/**
 * Checks one page of the book; returns the problems found.
 * @param {import('playwright-core').Browser} browser
 * @param {string} file
 */
async function checkBookPage(browser, file) {
  /** @type {string[]} */
  const problems = [];
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  try {
    await openPage(page, file, problems);
    const meta = async (/** @type {string} */ name) => Number((await page.getAttribute(`meta[name="${name}"]`, 'content').catch(() => null)) ?? 0);
    const figures = await meta('frugal-figures');
    const formulas = await meta('frugal-formulas');
    if (figures > 0) {
      await page
        .waitForFunction(() => [...document.querySelectorAll('.frugal-plot')].every((d) => d.hasAttribute('data-plot')), null, { timeout: RENDER_TIMEOUT_MS })
        .catch(() => problems.push(`figures still not drawn after ${RENDER_TIMEOUT_MS} ms`));
    }
    const drawn = await page.$$eval('.frugal-plot', (divs) => divs.filter((d) => d.querySelector('svg.main-svg')).length);
    if (drawn !== figures) problems.push(`${figures} figure(s) announced, ${drawn} rendered (svg.main-svg)`);
    problems.push(...(await checkFormulas(page, formulas)));
    const links = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    const local = [...new Set(links.filter((h) => h && !h.startsWith('#') && !/^[a-z]+:/i.test(h)).map((h) => h.split('#')[0] ?? ''))];
    for (const h of local) if (h && !fs.existsSync(path.resolve(path.dirname(file), h))) problems.push(`broken link: ${h}`);
    const shot = path.join(ROOT, 'out', 'screenshots', `book-${path.basename(file, '.html')}.png`);
    writeFileAtomic(shot, await page.screenshot({ fullPage: false }));
    return { problems, figures, formulas, links: local };
  } finally {
    await page.close();
  }
}

/**
 * Checks the book in `dir`: index.html and every page it links to. Returns the exit code.
 * @param {import('playwright-core').Browser} browser
 * @param {string} dir
 */
async function checkBook(browser, dir) {
  const index = path.join(dir, 'index.html');
  if (!fs.existsSync(index)) {
    console.error(`browser-check: no book at ${index} (run npm run reproduce)`);
    return 1;
  }
  const queue = [index];
  const seen = new Set(queue);
  let failed = 0;
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const t0 = Date.now();
    let r;
    try {
      r = await checkBookPage(browser, file);
    } catch (e) {
      r = { problems: [e instanceof Error ? e.message : String(e)], links: [], figures: 0, formulas: 0 };
    }
    for (const h of r.links) {
      const next = path.resolve(path.dirname(file), h);
      if (next.endsWith('.html') && fs.existsSync(next) && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
    const rel = path.relative(process.cwd(), file);
    if (r.problems.length) {
      failed++;
      console.error(`FAIL ${rel}`);
      for (const p of r.problems) console.error(`  - ${p}`);
    } else {
      console.log(`ok   ${rel}: ${r.figures} figure(s), ${r.formulas} formula(s) rendered (${Date.now() - t0} ms)`);
    }
  }
  if (failed) console.error(`browser-check: ${failed} of ${seen.size} book page(s) failed`);
  else console.log(`browser-check: the book's ${seen.size} page(s) passed`);
  return failed ? 1 : 0;
}

async function main() {
  const argv = process.argv.slice(2);
  const bookAt = argv.indexOf('--book');
  const bookDir = bookAt >= 0 ? path.resolve(argv[bookAt + 1] ?? path.join(ROOT, 'out', 'reproduce', 'book')) : null;
  const list = bookDir ? [] : notebooks(argv);
  if (!bookDir && list.length === 0) {
    console.error('browser-check: no executed notebooks in out/lessons/ (run `npm run lessons` first, or pass paths)');
    return 1;
  }
  const executablePath = process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    console.error(`browser-check: Chromium not found at ${executablePath} (set FRUGAL_CHROMIUM)`);
    return 1;
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  if (bookDir) {
    try {
      return await checkBook(browser, bookDir);
    } finally {
      await browser.close();
    }
  }
  let failed = 0;
  try {
    for (const nbPath of list) {
      const t0 = Date.now();
      let result;
      try {
        result = await checkNotebook(browser, nbPath);
      } catch (e) {
        result = { name: path.basename(nbPath), problems: [e instanceof Error ? e.message : String(e)] };
      }
      const rel = (/** @type {string} */ p) => path.relative(process.cwd(), p);
      if (result.problems.length) {
        failed++;
        console.error(`FAIL ${nbPath}`);
        for (const p of result.problems) console.error(`  - ${p}`);
      } else {
        console.log(`ok   ${nbPath}: ${result.expected} figure(s) rendered, ${rel(result.outPath ?? '')}, ${rel(result.shot ?? '')} (${Date.now() - t0} ms)`);
      }
    }
  } finally {
    await browser.close();
  }
  if (failed) console.error(`browser-check: ${failed} of ${list.length} notebook(s) failed`);
  return failed ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main();
