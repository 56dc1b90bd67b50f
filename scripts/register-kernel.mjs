// @ts-check
// Registers the course's kernel spec `frugal-ai` for the current user, pointing at this
// checkout's tslab. Run again after moving the checkout (npm run setup does it).
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KERNEL_DISPLAY_NAME, KERNEL_NAME, ROOT, findJupyter, run } from './lib/env.mjs';

export function kernelSpec() {
  return {
    argv: [process.execPath, join(ROOT, 'kernel', 'main.cjs'), '--config-path', '{connection_file}'],
    display_name: KERNEL_DISPLAY_NAME,
    language: 'typescript',
    interrupt_mode: 'signal',
    env: { FRUGAL_ROOT: ROOT },
    metadata: { frugal_ai: { root: ROOT } },
  };
}

export function registerKernel() {
  const jupyter = findJupyter();
  if (!jupyter) throw new Error('jupyter not found: install it first (npm run setup)');
  const dir = mkdtempSync(join(tmpdir(), 'frugal-kernel-'));
  const specDir = join(dir, KERNEL_NAME);
  run('mkdir', ['-p', specDir]);
  writeFileSync(join(specDir, 'kernel.json'), `${JSON.stringify(kernelSpec(), null, 2)}\n`);
  const r = run(jupyter, ['kernelspec', 'install', '--user', '--name', KERNEL_NAME, specDir]);
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`jupyter kernelspec install failed: ${r.stderr.trim()}`);
  return r.stderr.trim() || r.stdout.trim();
}

/**
 * The environment for running this checkout's kernel from scripts (lessons, kernel tests): a
 * kernel spec written under out/jupyter/ and put first on JUPYTER_PATH, so that the test runs use
 * this checkout even when another checkout registered the user's `frugal-ai` kernel last.
 */
export function checkoutKernelEnv(env = process.env) {
  const dataDir = join(ROOT, 'out', 'jupyter');
  const specDir = join(dataDir, 'kernels', KERNEL_NAME);
  mkdirSync(specDir, { recursive: true });
  writeFileSync(join(specDir, 'kernel.json'), `${JSON.stringify(kernelSpec(), null, 2)}\n`);
  return { ...env, JUPYTER_PATH: [dataDir, env.JUPYTER_PATH].filter(Boolean).join(':') };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(registerKernel());
}
