// The part of JupyterLab's application object that scripts/jupyterlab-check.mjs reads inside the
// page: `window.jupyterapp`, which JupyterLab exposes when started with
// --LabApp.expose_app_in_browser (the check does). Written here because the @jupyterlab/*
// packages and their types are not dependencies of the course. Loaded only by that script
// (`/// <reference path>`), and only true in such a JupyterLab page.

interface LabApp {
  shell: { currentWidget: LabNotebookPanel };
}

interface LabNotebookPanel {
  content: LabNotebook;
  sessionContext: { session?: { kernel?: { status: string; id: string; name: string } | null } | null };
}

interface LabNotebook {
  model: { cells: { length: number; get(i: number): LabCellModel } };
  widgets: readonly unknown[];
  activeCellIndex: number;
  activeCell: { model: LabCellModel };
  mode: string;
  node: HTMLElement;
}

interface LabCellModel {
  type: string;
  executionCount: number | null | undefined;
  outputs: { length: number; get(j: number): { toJSON(): LabOutput } };
  sharedModel: { getSource(): string; setSource(source: string): void };
}

/** An output in nbformat's JSON. */
interface LabOutput {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  text?: string | string[];
}

interface Window {
  jupyterapp: LabApp;
}
