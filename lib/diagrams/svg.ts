/**
 * A small SVG toolkit for the course's diagrams (lib/diagrams): boxes with centred lines of
 * text, arrows, labels, and a `Diagram` that shows itself in a notebook as `image/svg+xml`
 * (JupyterLab, the classic Notebook, nbconvert and GitHub all render it) with a text twin.
 */
import { displayBundle, type MimeBundle } from '../display';
import { escapeHtml } from '../table';

/** A diagram: standalone SVG markup and a plain-text description of the same content. */
export interface Diagram {
  /** `<svg xmlns=…>…</svg>`, with a <title> and, as its <desc>, the text below (screen readers, the book). */
  svg: string;
  /** The same content as text (the `text/plain` part, and what tests read). */
  text: string;
  width: number;
  height: number;
}

/** Colours of the diagrams: plotly's first colours, and greys. */
export const COLORS = {
  blue: '#1f77b4',
  orange: '#ff7f0e',
  green: '#2ca02c',
  red: '#d62728',
  purple: '#9467bd',
  grey: '#7f7f7f',
  light: '#f2f5fa',
  ink: '#2a3f5f',
} as const;

const FONT = 'font-family="Arial, \'Liberation Sans\', \'DejaVu Sans\', sans-serif"';

/** Options of a box. */
export interface BoxStyle {
  /** Fill colour (default light blue-grey). */
  fill?: string;
  /** Border colour (default ink). */
  stroke?: string;
  /** Border width (default 1.2). */
  strokeWidth?: number;
  /** Font size of the first line (default 13); the others are 2 px smaller. */
  fontSize?: number;
  /** Dashed border (something optional or cached). */
  dashed?: boolean;
  /** Text colour (default ink). */
  color?: string;
}

/** A rounded box at (x, y) with lines of text centred in it; the first line bold. */
export function box(x: number, y: number, w: number, h: number, lines: readonly string[], style: BoxStyle = {}): string {
  const fs = style.fontSize ?? 13;
  const color = style.color ?? COLORS.ink;
  const lineH = fs + 3;
  const top = y + h / 2 - ((lines.length - 1) * lineH) / 2 + fs * 0.35;
  const texts = lines
    .map((l, i) => {
      const size = i === 0 ? fs : fs - 2;
      const weight = i === 0 ? ' font-weight="bold"' : '';
      return `<text x="${x + w / 2}" y="${(top + i * lineH).toFixed(1)}" text-anchor="middle" ${FONT} font-size="${size}"${weight} fill="${color}">${escapeHtml(l)}</text>`;
    })
    .join('');
  const dash = style.dashed ? ' stroke-dasharray="5 3"' : '';
  return (
    `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${style.fill ?? COLORS.light}" ` +
    `stroke="${style.stroke ?? COLORS.ink}" stroke-width="${style.strokeWidth ?? 1.2}"${dash}/>${texts}`
  );
}

/** An arrow from (x1, y1) to (x2, y2), optionally through `via` points, with a label at its middle. */
export function arrow(x1: number, y1: number, x2: number, y2: number, options: { label?: string; color?: string; via?: Array<[number, number]>; dashed?: boolean } = {}): string {
  const color = options.color ?? COLORS.ink;
  const pts: Array<[number, number]> = [[x1, y1], ...(options.via ?? []), [x2, y2]];
  const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const dash = options.dashed ? ' stroke-dasharray="5 3"' : '';
  const marker = color === COLORS.ink ? 'frugal-arrow' : `frugal-arrow-${color.replace('#', '')}`;
  let out = `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.4"${dash} marker-end="url(#${marker})"/>`;
  if (options.label) {
    const mid = pts[Math.floor((pts.length - 1) / 2)] as [number, number];
    const next = pts[Math.floor((pts.length - 1) / 2) + 1] as [number, number];
    const mx = (mid[0] + next[0]) / 2;
    const my = (mid[1] + next[1]) / 2;
    out += label(mx, my - 5, options.label, { size: 11, color: COLORS.grey });
  }
  return out;
}

/** Free text at (x, y). */
export function label(x: number, y: number, text: string, options: { size?: number; color?: string; anchor?: 'start' | 'middle' | 'end'; bold?: boolean } = {}): string {
  const weight = options.bold ? ' font-weight="bold"' : '';
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${options.anchor ?? 'middle'}" ${FONT} font-size="${options.size ?? 12}"${weight} fill="${options.color ?? COLORS.ink}">${escapeHtml(text)}</text>`;
}

/** The arrowhead markers the arrows use, one per colour. */
function markers(colors: readonly string[]): string {
  return colors
    .map((c) => {
      const id = c === COLORS.ink ? 'frugal-arrow' : `frugal-arrow-${c.replace('#', '')}`;
      return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`;
    })
    .join('');
}

/**
 * Wraps parts into a standalone SVG with a title, a white background and the arrowheads. The
 * text twin goes in as the SVG's `<desc>`, so that the description travels with the picture
 * (the book and nbconvert embed the SVG alone; screen readers read the title and the desc).
 */
export function diagram(title: string, width: number, height: number, parts: readonly string[], text: string): Diagram {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<title>${escapeHtml(title)}</title><desc>${escapeHtml(text)}</desc><defs>${markers(Object.values(COLORS))}</defs>` +
    `<rect width="${width}" height="${height}" fill="white"/>${label(12, 22, title, { anchor: 'start', size: 15, bold: true })}` +
    `${parts.join('')}</svg>`;
  return { svg, text, width, height };
}

/** The MIME bundle of a diagram: SVG for every client, its text for plain ones. */
export function diagramBundle(d: Diagram): MimeBundle {
  return { 'image/svg+xml': d.svg, 'text/plain': d.text };
}

/** Shows a diagram in the notebook (outside a kernel its text goes to stdout). */
export function showDiagram(d: Diagram): void {
  displayBundle(diagramBundle(d));
}
