// @ts-check
// npm start: opens the lessons in JupyterLab when installed, else in the classic Notebook.
// Lessons select the course kernel (frugal-ai) in their metadata. Extra arguments go to Jupyter.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, jupyterStatus } from './lib/env.mjs';

const st = jupyterStatus();
if (!st.jupyter || !(st.lab || st.notebook)) {
  console.error('Jupyter not found: run npm run setup first.');
  process.exit(1);
}
const app = st.lab ? 'lab' : 'notebook';
if (!st.lab) console.log('JupyterLab not installed: opening the classic Notebook (pip install jupyterlab plotly for the interactive plots).');
// Jupyter refuses to run as root (containers, CI boxes) unless told.
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-root'] : [];
const args = [app, `--notebook-dir=${join(ROOT, 'notebooks')}`, ...asRoot, ...process.argv.slice(2)];
const child = spawn(st.jupyter, args, { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
