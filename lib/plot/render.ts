/**
 * Offline PNG rendering of plotly figures: Debian's headless Chromium (through playwright-core)
 * runs `Plotly.toImage` on a page that loaded plotly.js from node_modules, never from a CDN.
 *
 * The browser starts lazily, once per process, and serves every figure. Between renders it holds
 * no reference on Node's event loop, so a script that shows figures still exits by itself; on
 * exit playwright-core kills the browser and removes its temporary profile.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { nodeRequire } from '../node-require';
import { DEFAULT_HEIGHT, DEFAULT_WIDTH, assert, describeValue, type FigureLike } from './figure';

/** Env var: path of the Chromium executable (default `/usr/bin/chromium`). */
export const CHROMIUM_ENV = 'FRUGAL_CHROMIUM';
/** The Chromium used when `FRUGAL_CHROMIUM` is unset. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** Flags for an offline, quiet, sandbox-free headless Chromium (containers run as root). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fake origin the page is served from: playwright answers it, no request leaves the machine. */
const ORIGIN = 'http://frugal-plot.invalid';
/** Longest wait for one figure. */
const RENDER_TIMEOUT_MS = 30_000;

export interface RenderOptions {
  /** PNG width in pixels (default: the layout's width, else 720). */
  width?: number;
  /** PNG height in pixels (default: the layout's height, else 400). */
  height?: number;
}

interface Renderer {
  browser: Browser;
  /** A page with plotly.js loaded, reused for every figure. */
  page: Page;
  /** The browser process, or null where playwright's internals could not be reached. */
  child: ChildProcess | null;
}

let current: Promise<Renderer> | null = null;
/** Renders in flight: while > 0 the browser process holds the event loop. */
let busy = 0;
let idleTimer: NodeJS.Timeout | null = null;

/** Startup timings of the current browser, in ms (for reports and benches). */
export const rendererTimings = { launchMs: 0, plotlyMs: 0 };

/**
 * Stops the browser from holding Node's event loop, through playwright-core's in-process
 * connection (internal API, checked at each step): unrefs the pipes to the browser, and stops
 * the page's screencast frame throttler (a 35 ms timer that would keep the process alive).
 * @returns the browser process, whose handle `hold` refs while rendering; null if the internals
 *   were not found (then the browser is closed when idle instead).
 */
function detachFromEventLoop(browser: Browser, page: Page): ChildProcess | null {
  type ServerBrowser = { options?: { browserProcess?: { process?: ChildProcess } } };
  type ServerPage = { _frameThrottler?: { dispose?: () => void } };
  const conn = (browser as unknown as { _connection?: { toImpl?: (x: unknown) => unknown } })._connection;
  try {
    const child = (conn?.toImpl?.(browser) as ServerBrowser | undefined)?.options?.browserProcess?.process;
    const throttler = (conn?.toImpl?.(page) as ServerPage | undefined)?._frameThrottler;
    if (!child || typeof child.unref !== 'function' || typeof throttler?.dispose !== 'function') return null;
    throttler.dispose();
    for (const s of child.stdio) (s as Socket | null)?.unref?.();
    return child;
  } catch {
    return null;
  }
}

/** Lets the process exit while the browser is idle (`hold(false)`), or keeps it alive. */
function hold(r: Renderer, on: boolean): void {
  if (!r.child) return;
  if (on) r.child.ref();
  else r.child.unref();
}

async function launch(): Promise<Renderer> {
  const executablePath = process.env[CHROMIUM_ENV] || DEFAULT_CHROMIUM;
  assert(fs.existsSync(executablePath), `Chromium not found at ${executablePath} (set ${CHROMIUM_ENV})`);
  const { chromium } = nodeRequire('playwright-core') as typeof import('playwright-core');
  const t0 = Date.now();
  const browser = await chromium.launch({
    executablePath,
    args: [...CHROMIUM_ARGS],
    // Leave signals to the host: Jupyter interrupts the kernel with SIGINT.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 30_000,
  });
  const t1 = Date.now();
  try {
    const page = await browser.newPage();
    const plotlyJs = nodeRequire.resolve('plotly.js-dist-min');
    await page.route(`${ORIGIN}/**`, (route) =>
      route.request().url().endsWith('/plotly.min.js')
        ? route.fulfill({ path: plotlyJs, contentType: 'text/javascript' })
        : route.fulfill({ contentType: 'text/html', body: '<!doctype html><script src="/plotly.min.js"></script>' }),
    );
    await page.goto(`${ORIGIN}/`);
    const version = await page.evaluate(() => (globalThis as { Plotly?: { version: string } }).Plotly?.version);
    assert(version, 'plotly.js did not load in Chromium');
    rendererTimings.launchMs = t1 - t0;
    rendererTimings.plotlyMs = Date.now() - t1;
    const r: Renderer = { browser, page, child: detachFromEventLoop(browser, page) };
    hold(r, false);
    return r;
  } catch (e) {
    await browser.close().catch(() => undefined);
    throw e;
  }
}

/** The shared renderer, started on first use; a crashed browser is started again next time. */
function renderer(): Promise<Renderer> {
  if (!current) {
    const p = launch();
    current = p;
    p.then(
      (r) =>
        r.browser.on('disconnected', () => {
          if (current === p) current = null;
        }),
      () => undefined, // a failed start stays cached: `closeRenderer()` resets it
    );
  }
  return current;
}

/** Plain JSON: typed arrays become arrays, symbol keys and functions go. */
export function plainFigure(fig: FigureLike): FigureLike {
  return JSON.parse(JSON.stringify(fig, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v))) as FigureLike;
}

/**
 * Checks that `fig` looks like a plotly figure.
 * @throws {Error} if `fig` is not an object with a `data` array (and an optional `layout` object).
 */
export function assertFigure(fig: unknown): asserts fig is FigureLike {
  const f = fig as FigureLike | null;
  assert(
    typeof f === 'object' && f !== null && Array.isArray(f.data) && (f.layout === undefined || typeof f.layout === 'object'),
    () => `fig must be a plotly figure { data: [...], layout: {...} }, got ${describeValue(fig)}`,
  );
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Renders a figure to PNG in headless Chromium with `Plotly.toImage`. The first call starts the
 * browser (about 0.3 s) and loads plotly.js (about 1.3 s); later figures take tens of ms.
 *
 * @returns the PNG bytes.
 * @throws {Error} if `fig` is not a figure, width/height are not positive integers, Chromium is
 *   missing or fails to start, or plotly fails to draw the figure.
 */
export async function renderPng(fig: FigureLike, options: RenderOptions = {}): Promise<Buffer> {
  assertFigure(fig);
  const layout = (fig.layout ?? {}) as { width?: unknown; height?: unknown };
  const size = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
  const width = options.width ?? size(layout.width, DEFAULT_WIDTH);
  const height = options.height ?? size(layout.height, DEFAULT_HEIGHT);
  for (const [key, v] of [['width', width], ['height', height]] as const) {
    assert(Number.isInteger(v) && v > 0, () => `${key} must be a positive integer, got ${describeValue(v)}`);
  }
  const json = plainFigure(fig);
  const r = await renderer();
  if (idleTimer) clearTimeout(idleTimer);
  busy++;
  hold(r, true);
  try {
    const base64 = await withTimeout(
      r.page.evaluate(
        async ({ fig, width, height }) => {
          type Plotly = { toImage(f: unknown, o: object): Promise<string> };
          const url = await (globalThis as unknown as { Plotly: Plotly }).Plotly.toImage(fig, { format: 'png', width, height });
          return url.slice(url.indexOf(',') + 1);
        },
        { fig: json, width, height },
      ),
      RENDER_TIMEOUT_MS,
      'Plotly.toImage',
    );
    return Buffer.from(base64, 'base64');
  } finally {
    busy--;
    if (busy === 0) {
      hold(r, false);
      // Without access to the process handle, close the idle browser so the process can exit.
      if (!r.child) idleTimer = setTimeout(() => void closeRenderer(), 5_000);
    }
  }
}

/** Closes the shared browser, if any; the next render starts a new one. Never throws. */
export async function closeRenderer(): Promise<void> {
  const p = current;
  current = null;
  if (!p) return;
  const r = await p.catch(() => null);
  await r?.browser.close().catch(() => undefined);
}

/** The pid of the running browser process, or null (for tests that check it is gone on exit). */
export async function rendererPid(): Promise<number | null> {
  const r = await current?.catch(() => null);
  return r?.child?.pid ?? null;
}
