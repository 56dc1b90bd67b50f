#!/usr/bin/env node
// @ts-check
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Checks executed notebooks the way a reader sees them: exports each to HTML
 * (scripts/export-html.mjs), opens it in headless Chromium (Debian's, through playwright-core,
 * offline) and asserts that
 *   - every plotly output rendered (a `.frugal-plot` div holding `svg.main-svg`, one per output),
 *   - no error output is shown (no error output in the notebook, no stderr output or
 *     `.output_error` containing 'Error'),
 *   - the page logged no error, threw nothing, and requested nothing from the network.
 * A full-page screenshot goes to out/screenshots/<name>.png.
 *
 *   node scripts/browser-check.mjs [executed.ipynb ...]     (default: out/lessons/*.ipynb)
 *
 * Env: FRUGAL_CHROMIUM (default /usr/bin/chromium). Exit code 1 with a message per failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { countPlotlyOutputs, exportHtml } from './export-html.mjs';
import { writeFileAtomic } from './lib/env.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
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
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
    await page.route(/^(https?|wss?|ftp):/, (route) => {
      problems.push(`network request (blocked): ${route.request().url()}`);
      return route.abort();
    });
    await page.goto(pathToFileURL(outPath).href, { waitUntil: 'load' });
    // Each figure's script sets data-plot="done" or "error" when plotly has settled.
    await page
      .waitForFunction(() => [...document.querySelectorAll('.frugal-plot')].every((d) => d.hasAttribute('data-plot')), null, { timeout: RENDER_TIMEOUT_MS })
      .catch(() => problems.push(`figures still not drawn after ${RENDER_TIMEOUT_MS} ms`));
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
 * The notebooks to check: the arguments, else out/lessons/*.ipynb.
 * @param {string[]} args
 */
function notebooks(args) {
  if (args.length) return args;
  const dir = path.join(ROOT, 'out', 'lessons');
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  return found.map((f) => path.join(dir, f));
}

async function main() {
  const list = notebooks(process.argv.slice(2));
  if (list.length === 0) {
    console.error('browser-check: no executed notebooks in out/lessons/ (run `npm run lessons` first, or pass paths)');
    return 1;
  }
  const executablePath = process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    console.error(`browser-check: Chromium not found at ${executablePath} (set FRUGAL_CHROMIUM)`);
    return 1;
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
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

process.exitCode = await main();
