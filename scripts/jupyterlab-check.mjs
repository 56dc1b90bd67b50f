#!/usr/bin/env node
// @ts-check
// The lessons in a real JupyterLab, as a learner runs them (npm test step):
//
//   node scripts/jupyterlab-check.mjs [lesson prefix, default 00]
//
// 1. starts JupyterLab on 127.0.0.1 (a free port, a random token) with this checkout's course
//    kernel (checkoutKernelEnv), serving a fresh copy of the lesson in out/jupyterlab-check/;
// 2. opens the lesson in headless Chromium (playwright-core, offline: every request that leaves
//    127.0.0.1 is blocked) and runs all cells through the menu Run > Run All Cells;
// 3. asserts that every plotly figure was drawn by JupyterLab's plotly renderer as an interactive
//    plot (jupyterlab-plotly's .jp-RenderedPlotly holding plotly's svg.main-svg, its static image
//    hidden; no output drawn by the plain image renderer) without the mouse
//    ever passing over it, that the tables rendered, that no cell shows an error, and that the
//    kernel is alive (a new cell runs and sees the lesson's variables);
// 4. runs an endless loop in a new cell, presses the toolbar's interrupt button, and asserts the
//    cell stops with an error, the kernel is the same one (the lesson's variables survive) and it
//    still runs cells;
// 5. saves screenshots to out/screenshots/jupyterlab-*.png and stops the server.
// Every wait is bounded. JupyterLab or its plotly extension missing is a failure, not a skip:
// `pip install jupyterlab plotly` (README, .ci/run).
/// <reference path="./lib/jupyterlab-app.d.ts" />
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser-check.mjs';
import { ROOT, findJupyter, listLessons, run } from './lib/env.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

/** @typedef {import('playwright-core').Page} Page */

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const LESSON = process.argv[2] ?? '00';
/** Bounds of the waits, in ms. */
const SERVER_START_MS = 90_000;
const LAB_LOAD_MS = 120_000;
const RUN_ALL_MS = 600_000;
const CELL_MS = 60_000;
const INTERRUPT_MS = 60_000;
const SHOTS = join(ROOT, 'out', 'screenshots');

const t0 = Date.now();
/** @param {string} s */
const log = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
/** @type {string[]} */
const problems = [];

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Waits until `fn()` is truthy, polling every `ms`; throws naming `what` after `timeout`.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} timeout
 * @param {string} what
 * @returns {Promise<T>}
 */
async function until(fn, timeout, what, ms = 500) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: still not true after ${Math.round(timeout / 1000)} s`);
    await new Promise((r) => setTimeout(r, ms));
  }
}

/**
 * JupyterLab and the plotly extension are there, or a message saying how to get them.
 * @returns {{ error: string } | { error?: undefined, jupyter: string, version: string }}
 */
function preflight() {
  const jupyter = findJupyter();
  if (!jupyter) return { error: 'jupyter not found on PATH: pip install jupyterlab plotly' };
  const v = run(jupyter, ['lab', '--version']);
  if (v.status !== 0) return { error: `JupyterLab is not installed for ${jupyter} (jupyter lab --version failed): pip install jupyterlab plotly` };
  // The prebuilt extension lives in <data dir>/labextensions/jupyterlab-plotly (pip install plotly).
  /** @type {string[]} */
  let dataDirs = [];
  try {
    dataDirs = /** @type {{ data?: string[] }} */ (JSON.parse(run(jupyter, ['--paths', '--json']).stdout)).data ?? [];
  } catch {
    dataDirs = [];
  }
  if (!dataDirs.some((d) => existsSync(join(d, 'labextensions', 'jupyterlab-plotly', 'package.json')))) {
    return { error: `the plotly JupyterLab extension is missing (no labextensions/jupyterlab-plotly in ${dataDirs.join(', ') || 'the Jupyter data dirs'}): pip install plotly` };
  }
  if (!existsSync(process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium')) return { error: 'Chromium not found at /usr/bin/chromium (set FRUGAL_CHROMIUM)' };
  return { jupyter, version: v.stdout.trim() };
}

/**
 * A user-settings folder for the test's JupyterLab: no news toast over the notebook.
 * @param {string} dir
 */
function settingsDir(dir) {
  const d = join(dir, '..', 'settings');
  mkdirSync(join(d, '@jupyterlab', 'apputils-extension'), { recursive: true });
  writeFileSync(join(d, '@jupyterlab', 'apputils-extension', 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
  return d;
}

/**
 * Starts JupyterLab; resolves {child, url, token}.
 * @param {string} jupyter
 * @param {string} dir
 */
async function startLab(jupyter, dir) {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const args = [
    'lab', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, `--IdentityProvider.token=${token}`,
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    `--ServerApp.root_dir=${dir}`, '--ServerApp.open_browser=False', '--LabApp.expose_app_in_browser=True',
    '--LabApp.news_url=None', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
    '--ServerApp.port_retries=0',
  ];
  const child = spawn(jupyter, args, {
    cwd: dir,
    env: { ...checkoutKernelEnv(), JUPYTER_CONFIG_DIR: join(dir, '..', 'config'), JUPYTERLAB_WORKSPACES_DIR: join(dir, '..', 'workspaces'), JUPYTERLAB_SETTINGS_DIR: settingsDir(dir) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`JupyterLab exited (${child.exitCode}):\n${output.slice(-2000)}`);
      const r = await fetch(`${url}/api/status?token=${token}`);
      return r.ok;
    }, SERVER_START_MS, 'JupyterLab answering /api/status');
  } catch (e) {
    await stopLab(child);
    throw new Error(`${e instanceof Error ? e.message : e}\n--- server output\n${output.slice(-2000)}`);
  }
  return { child, url, token, output: () => output };
}

/**
 * Stops the server and everything it started (its kernels): SIGTERM to the group, then SIGKILL.
 * @param {import('node:child_process').ChildProcess} child
 */
async function stopLab(child) {
  // Without a pid the spawn failed: nothing to stop (process.kill(NaN) threw here before).
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + 15_000;
  while (child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  if (child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * In the page: the notebook model's outputs, by cell.
 * @param {Page} page
 */
function modelOutputs(page) {
  return page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type !== 'code') continue;
      const outputs = [];
      for (let j = 0; j < c.outputs.length; j++) {
        const o = c.outputs.get(j).toJSON();
        outputs.push({ type: o.output_type, mimes: Object.keys(o.data ?? {}), ename: o.ename, evalue: o.evalue, text: typeof o.text === 'string' ? o.text : Array.isArray(o.text) ? o.text.join('') : '' });
      }
      out.push({ index: i, count: c.executionCount, source: c.sharedModel.getSource().slice(0, 80), outputs });
    }
    return out;
  });
}

/**
 * In the page: the kernel's status and id.
 * @param {Page} page
 */
function kernelState(page) {
  return page.evaluate(() => {
    const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
    return { status: ctx.session?.kernel?.status ?? 'none', id: ctx.session?.kernel?.id ?? null, name: ctx.session?.kernel?.name ?? null };
  });
}

/**
 * Appends a code cell with `source` below the last one (command mode, key b) and runs it (Ctrl+Enter).
 * @param {Page} page
 * @param {string} source
 */
async function appendAndRun(page, source) {
  await page.evaluate(() => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    nb.activeCellIndex = nb.widgets.length - 1;
    nb.mode = 'command';
    nb.node.focus();
  });
  await page.keyboard.press('b');
  await until(() => page.evaluate(() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource() === ''), 10_000, 'a new empty cell');
  await page.evaluate((src) => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.setSource(src), source);
  const index = await page.evaluate(() => window.jupyterapp.shell.currentWidget.content.activeCellIndex);
  await page.keyboard.press('Control+Enter');
  return index;
}

/**
 * Waits for cell `index` to finish (an execution count, kernel idle); returns its outputs.
 * @param {Page} page
 * @param {number} index
 * @param {number} timeout
 * @param {string} what
 */
async function cellDone(page, index, timeout, what) {
  await until(async () => {
    const s = await kernelState(page);
    const count = await page.evaluate((i) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).executionCount, index);
    return s.status === 'idle' && count !== null && count !== undefined;
  }, timeout, what);
  return (await modelOutputs(page)).find((c) => c.index === index);
}

async function main() {
  const pre = preflight();
  if (pre.error !== undefined) {
    console.error(`jupyterlab-check: FAILED before starting: ${pre.error}`);
    return 1;
  }
  const [lessonPath] = listLessons([LESSON]);
  if (!lessonPath) {
    console.error(`jupyterlab-check: no lesson matches ${LESSON}`);
    return 1;
  }
  const name = basename(lessonPath);
  const base = join(ROOT, 'out', 'jupyterlab-check');
  const dir = join(base, 'work');
  rmSync(base, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  mkdirSync(SHOTS, { recursive: true });
  copyFileSync(lessonPath, join(dir, name));
  log(`JupyterLab ${pre.version}; lesson ${name}`);

  let lab;
  try {
    lab = await startLab(pre.jupyter, dir);
  } catch (e) {
    console.error(`jupyterlab-check: FAILED: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  log(`server up at ${lab.url}`);
  let browser = null;
  try {
    browser = await chromium.launch({ executablePath: process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    /** @type {string[]} */
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.route(/^(https?|wss?):\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    // The mouse stays in the top-left corner, over the menu bar: no figure is ever hovered.
    await page.mouse.move(1, 1);
    await page.goto(`${lab.url}/lab/tree/${encodeURIComponent(name)}?token=${lab.token}`, { timeout: LAB_LOAD_MS });
    await until(() => page.evaluate(() => !!window.jupyterapp?.shell?.currentWidget?.content?.model), LAB_LOAD_MS, 'the notebook open in JupyterLab');
    await until(async () => (await kernelState(page)).status === 'idle', LAB_LOAD_MS, 'the course kernel started and idle');
    const kernel = await kernelState(page);
    log(`notebook open, kernel ${kernel.name} idle`);
    if (kernel.name !== 'frugal-ai') problems.push(`the notebook runs kernel ${kernel.name}, expected frugal-ai`);

    // Run > Run All Cells, through the menu.
    await page.locator('.lm-MenuBar-item', { hasText: /^Run$/ }).click({ timeout: 30_000 });
    await page.locator('.lm-Menu-item:not(.lm-mod-hidden)', { hasText: 'Run All Cells' }).first().click({ timeout: 30_000 });
    await page.mouse.move(1, 1);
    const started = Date.now();
    await until(async () => {
      const cells = await modelOutputs(page);
      return cells.every((c) => c.count !== null && c.count !== undefined) && (await kernelState(page)).status === 'idle';
    }, RUN_ALL_MS, 'every cell executed (Run All Cells)', 1000);
    log(`all cells ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const cells = await modelOutputs(page);
    for (const c of cells) {
      for (const o of c.outputs) if (o.type === 'error') problems.push(`cell ${c.index + 1} (${c.source.split('\n')[0]}) shows an error: ${o.ename}: ${o.evalue}`);
    }
    const plotlyOutputs = cells.flatMap((c) => c.outputs).filter((o) => o.mimes.includes(PLOTLY_MIME)).length;
    // Each figure, scrolled into view (JupyterLab renders cells lazily), must be drawn by the
    // plotly renderer without the mouse passing over it.
    const figureState = () =>
      page.$$eval('.jp-RenderedPlotly', (els) =>
        els.map((el) => {
          const svg = el.querySelector('svg.main-svg');
          const img = el.querySelector('img.plot-img');
          const container = el.querySelector('.plot-container');
          return {
            interactive: !!svg && !!container && getComputedStyle(container).display !== 'none',
            imageShown: !!img && getComputedStyle(img).display !== 'none' && !!img.getAttribute('src'),
            classes: el.className,
            children: [...el.children].map((c) => `${c.tagName.toLowerCase()}.${[...c.classList].join('.')}`).join(' '),
          };
        }),
      );
    const outputsLoc = page.locator('.jp-RenderedPlotly');
    for (let i = 0; i < (await outputsLoc.count()); i++) {
      await outputsLoc.nth(i).scrollIntoViewIfNeeded({ timeout: 10_000 }).catch(() => undefined);
      await page.mouse.move(1, 1);
      await page.waitForTimeout(500);
    }
    const drawn = await until(async () => {
      const st = await figureState();
      const n = st.filter((f) => f.interactive && !f.imageShown).length;
      return n >= plotlyOutputs && st.length >= plotlyOutputs ? n : null;
    }, 60_000, `${plotlyOutputs} interactive plotly figure(s) drawn`).catch(async (e) => {
      problems.push(`${e.message}: ${JSON.stringify(await figureState())}`);
      return (await figureState()).filter((f) => f.interactive).length;
    });
    const stillImages = (await figureState()).filter((f) => f.imageShown).length;
    const staticPng = await page.locator('.jp-OutputArea-output .jp-RenderedImage').count();
    if (plotlyOutputs === 0) problems.push('the lesson shows no plotly figure: nothing to check');
    if (stillImages > 0) problems.push(`${stillImages} plotly output(s) show their static PNG instead of the interactive plot`);
    if (staticPng > 0) problems.push(`${staticPng} output(s) rendered as a plain image/png instead of by the plotly renderer`);
    const modebars = await page.locator('.jp-OutputArea-output .modebar-container').count();
    const tables = await page.locator('.jp-OutputArea-output table.frugal-table').count();
    if (tables === 0) problems.push('no table rendered (table.frugal-table)');
    log(`${plotlyOutputs} plotly output(s) in the model, ${drawn} drawn interactively (${modebars} modebar(s)), ${tables} table(s), ${stillImages} static image(s) shown`);
    const firstPlot = page.locator('.jp-RenderedPlotly').first();
    if (plotlyOutputs > 0) await firstPlot.scrollIntoViewIfNeeded().catch(() => undefined);
    await page.mouse.move(1, 1);
    await page.screenshot({ path: join(SHOTS, `jupyterlab-${LESSON}-run-all.png`) });

    // Finished progress displays are one summary line each (lib/progress done()).
    const summaries = page.locator('.jp-OutputArea-output .frugal-progress-done');
    log(`${await summaries.count()} finished progress display(s) collapsed to a summary line`);
    if ((await summaries.count()) > 0) {
      await summaries.first().scrollIntoViewIfNeeded().catch(() => undefined);
      await page.screenshot({ path: join(SHOTS, `jupyterlab-${LESSON}-progress.png`) });
    }

    // Alive: a new cell runs and sees the lesson's first cell (SCALE).
    const alive = await appendAndRun(page, 'SCALE * 2');
    const aliveOut = await cellDone(page, alive, CELL_MS, 'the check cell after Run All');
    const aliveText = JSON.stringify(aliveOut?.outputs ?? []);
    if (aliveOut?.outputs.some((o) => o.type === 'error') || !/execute_result/.test(aliveText)) problems.push(`the kernel did not answer SCALE * 2 after the run: ${aliveText.slice(0, 300)}`);

    // Interrupt: an endless loop, stopped with the toolbar's interrupt button.
    const before = await kernelState(page);
    const loop = await appendAndRun(page, 'let spins = 0;\nwhile (true) spins++;');
    await until(async () => (await kernelState(page)).status === 'busy', 20_000, 'the endless loop running');
    await new Promise((r) => setTimeout(r, 2000));
    await page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:interrupt-kernel"], .jp-NotebookPanel-toolbar button[title^="Interrupt"]').first().click({ timeout: 20_000 });
    const loopOut = await cellDone(page, loop, INTERRUPT_MS, 'the loop interrupted by the toolbar button');
    const loopErr = loopOut?.outputs.find((o) => o.type === 'error');
    if (!loopErr) problems.push(`the interrupted loop shows no error: ${JSON.stringify(loopOut?.outputs ?? []).slice(0, 300)}`);
    else log(`interrupted: ${loopErr.ename}: ${loopErr.evalue}`);
    const after = await kernelState(page);
    if (after.id !== before.id) problems.push(`the kernel changed across the interrupt (${before.id} -> ${after.id}): it died and restarted`);
    const again = await appendAndRun(page, 'SCALE + 1');
    const againOut = await cellDone(page, again, CELL_MS, 'a cell after the interrupt');
    if (againOut?.outputs.some((o) => o.type === 'error') || !/execute_result/.test(JSON.stringify(againOut?.outputs ?? []))) {
      problems.push(`the kernel lost the lesson's variables or stopped answering after the interrupt: ${JSON.stringify(againOut?.outputs ?? []).slice(0, 300)}`);
    } else {
      log('the kernel survived the interrupt: same kernel, SCALE still defined');
    }
    await page.screenshot({ path: join(SHOTS, `jupyterlab-${LESSON}-interrupt.png`) });
    // JupyterLab's debugger panel complains about kernels without a debugger (ours): not a lesson error.
    for (const e of pageErrors.filter((m) => !/No active debugger session/.test(m))) problems.push(`page error: ${e}`);
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  } finally {
    await browser?.close().catch(() => undefined);
    await stopLab(lab.child);
    log('server stopped');
  }
  if (problems.length) {
    console.error(`jupyterlab-check: FAILED (${problems.length} problem(s)) on ${name}:`);
    for (const p of problems) console.error(`  - ${p}`);
    return 1;
  }
  log(`jupyterlab-check: ok (${name}); screenshots in out/screenshots/jupyterlab-${LESSON}-*.png`);
  return 0;
}

process.exitCode = await main();
