/**
 * scripts/export-html.mjs and scripts/browser-check.mjs on fixture notebooks built here (not by a
 * kernel): an "executed" notebook whose display_data outputs hold figure bundles made by lib/plot.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MimeBundle } from '../lib/display';
import { closeRenderer, figureBundle, heatmapFigure, lineFigure } from '../lib/plot';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium';
const noChromium = !fs.existsSync(CHROMIUM);
if (noChromium) console.warn(`tests/browser.test.ts: skipped: no Chromium at ${CHROMIUM} (set FRUGAL_CHROMIUM)`);
const DIR = path.join(ROOT, 'out', 'test');
/** The banner at the top of plotly.min.js: one per inlined copy. */
const PLOTLY_BANNER = /\* plotly\.js v\d+\.\d+\.\d+/g;

type Output = Record<string, unknown>;

/** An executed-looking notebook (nbformat 4.5) with one code cell holding `outputs`. */
function notebook(outputs: Output[]): object {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'frugal-ai', display_name: 'TypeScript (frugal-ai)', language: 'typescript' } },
    cells: [
      { cell_type: 'markdown', id: 'title', metadata: {}, source: '# Plot fixture' },
      { cell_type: 'code', id: 'plots', metadata: {}, execution_count: null, source: 'await show(fig);', outputs },
    ],
  };
}

const display = (data: MimeBundle): Output => ({ output_type: 'display_data', metadata: {}, data });

function writeNotebook(name: string, nb: object): string {
  const file = path.join(DIR, `${name}.ipynb`);
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  return file;
}

function node(script: string, ...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

describe.skipIf(noChromium)(`export-html + browser-check (needs Chromium at ${CHROMIUM}, set FRUGAL_CHROMIUM)`, () => {
  let fixture = '';

  beforeAll(async () => {
    const loss = await figureBundle(lineFigure({ train: [2.3, 1.1, 0.6, 0.4], val: [2.4, 1.4, 1.0, 0.9] }, { title: 'Loss </script> & "quotes"', yTitle: 'loss' }));
    const attention = await figureBundle(heatmapFigure([[0.9, 0.1], [0.3, 0.7]], { x: ['the', 'cat'], y: ['the', 'cat'], showValues: true, title: 'Attention' }));
    expect(loss['image/png']).toBeTypeOf('string'); // the fixture holds real PNGs, as show() makes them
    fixture = writeNotebook('plot-fixture', notebook([display(loss), display(attention), { output_type: 'stream', name: 'stdout', text: 'done\n' }]));
  });

  afterAll(() => closeRenderer());

  it('export-html inlines plotly.js exactly once, a figure per plotly output, and no CDN script', () => {
    const out = path.join(DIR, 'plot-fixture.html');
    const r = node('export-html.mjs', fixture, out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/plot-fixture\.html: 2 interactive figure\(s\)/);
    const html = fs.readFileSync(out, 'utf8');
    expect(html.match(PLOTLY_BANNER)?.length, 'copies of plotly.js').toBe(1);
    expect(html.match(/Plotly\.newPlot\(el, fig\.data/g)?.length, 'Plotly.newPlot calls').toBe(2);
    expect(html.match(/<div class="frugal-plot" id="frugal-plot-\d"><\/div>/g)?.length, 'figure divs').toBe(2);
    // The PNG fallback (base64 of the PNG signature starts iVBORw0KGgo).
    expect(html.match(/<noscript><img alt="figure" src="data:image\/png;base64,iVBORw0KGgo/g)?.length, 'noscript PNGs').toBe(2);
    const scriptSrcs = [...html.matchAll(/<script[^>]*\bsrc\s*=\s*["']?([^"' >]+)/gi)].map((m) => m[1]);
    expect(scriptSrcs).toEqual([]);
    // plotly.min.js itself mentions https://cdn.plot.ly (for geo maps); no tag may load from it.
    expect(/<script[^>]*\bsrc\s*=[^>]*cdn/i.test(html), 'a <script src> from a CDN').toBe(false);
    expect(/\bsrc\s*=\s*["']?https:\/\/cdn\.plot\.ly/i.test(html), 'a src= on https://cdn.plot.ly').toBe(false);
    // The title's `</script>` stays inside the JSON string, escaped.
    expect(html.includes('Loss \\u003c/script> & \\"quotes\\"'), 'escaped title').toBe(true);
    expect(fs.readdirSync(DIR).filter((f) => f.includes('.tmp-'))).toEqual([]); // written atomically
  });

  it('export-html leaves plotly.js out of a page without figures', () => {
    const plain = writeNotebook('plain-fixture', notebook([{ output_type: 'stream', name: 'stdout', text: 'no plots\n' }]));
    const out = path.join(DIR, 'plain-fixture.html');
    const r = node('export-html.mjs', plain, out);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8').match(PLOTLY_BANNER), 'plotly.js inlined').toBeNull();
  });

  it('browser-check passes the fixture: both figures rendered, no errors, a screenshot', () => {
    const shot = path.join(ROOT, 'out', 'screenshots', 'plot-fixture.png');
    fs.rmSync(shot, { force: true });
    const r = node('browser-check.mjs', fixture);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}.*plot-fixture\.ipynb: 2 figure\(s\) rendered/m);
    expect(fs.readFileSync(shot).subarray(1, 4).toString('ascii')).toBe('PNG');
  });

  it('browser-check fails, saying why, on an error output and a figure that does not render', () => {
    const broken = writeNotebook(
      'broken-fixture',
      notebook([
        display({ 'application/vnd.plotly.v1+json': { data: [null] }, 'text/plain': 'Figure: broken' }),
        { output_type: 'stream', name: 'stderr', text: 'Error: temperature must be > 0, got -1\n' },
        { output_type: 'error', ename: 'Error', evalue: 'boom', traceback: [] },
      ]),
    );
    const r = node('browser-check.mjs', broken);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^FAIL .*broken-fixture\.ipynb$/m);
    expect(r.stderr).toContain('error output in the notebook: Error: boom');
    expect(r.stderr).toContain('1 plotly output(s) in the notebook, 1 figure div(s) in the page, 0 rendered (svg.main-svg)');
    expect(r.stderr).toMatch(/console error: plotly figure frugal-plot-0: .*null/);
    expect(r.stderr).toMatch(/error shown in an output: Error: temperature must be > 0, got -1/);
    expect(r.stderr).toMatch(/browser-check: 1 of 1 notebook\(s\) failed/);
  });

  it('export-html inlines KaTeX when the markdown has maths; browser-check counts the formulas', () => {
    const md = (source: string) => ({ cell_type: 'markdown', id: 'm', metadata: {}, source });
    const withMaths = (source: string) => ({ ...(notebook([]) as { cells: object[] }), cells: [md(source)] });
    const good = writeNotebook('maths-fixture', withMaths('Loss $\\mathcal{L} = \\alpha T^2 \\mathrm{KL}$ and\n\n$$q_i = \\frac{e^{z_i/T}}{\\sum_j e^{z_j/T}}$$\n\n`$not maths$`'));
    const out = path.join(DIR, 'maths-fixture.html');
    const r = node('export-html.mjs', good, out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 interactive figure\(s\), 2 formula\(s\)/);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toMatch(/font\/woff2;base64,/); // KaTeX's fonts inlined: the page works offline
    expect([...html.matchAll(/<script[^>]*\bsrc\s*=/gi)]).toEqual([]);
    const ok = node('browser-check.mjs', good);
    expect(ok.status, `${ok.stdout}\n${ok.stderr}`).toBe(0);
    const bad = writeNotebook('bad-maths-fixture', withMaths('Broken: $\\frac{1}{$ here.'));
    const ko = node('browser-check.mjs', bad);
    expect(ko.status).toBe(1);
    expect(ko.stderr).toContain('1 formula(s) in the markdown, 0 rendered by KaTeX');
  });

  it('browser-check with nothing to check says so and fails', () => {
    const r = node('browser-check.mjs', path.join(DIR, 'missing.ipynb'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/missing\.ipynb/);
  });
});
