/**
 * lib/diagrams: one SVG diagram per technique. Each must be well-formed standalone SVG, draw
 * what its text says, compute its numbers right (hand computations below) and reject bad input.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { distillationWorkflowDiagram, grpoLoopDiagram, mlaDiagram, moeRoutingDiagram, showDiagram, diagramBundle } from '../lib/diagrams';
import { kvCacheValues } from '../lib/diagrams/mla';
import { topKRouting } from '../lib/diagrams/moe-routing';

afterEach(() => vi.restoreAllMocks());

/** Checks that every tag of `svg` is closed in order (a well-formedness check without a parser). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else stack.push(name as string);
  }
  expect(stack).toEqual([]);
}

const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe('distillationWorkflowDiagram', () => {
  it('draws the seven steps in order, the highlighted one in orange', () => {
    const d = distillationWorkflowDiagram({ highlight: 4 });
    assertBalanced(d.svg);
    expect(d.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const titles = texts(d.svg).filter((t) => /^\d · /.test(t ?? ''));
    expect(titles).toEqual(['1 · Teacher and data', '2 · Soft labels', '3 · Student', '4 · Loss', '5 · Train', '6 · Evaluate', '7 · Deploy']);
    expect(d.svg.match(/stroke="#ff7f0e" stroke-width="3"/g)).toHaveLength(1);
    expect(d.text).toMatch(/^> 4 · Loss: α·CE\(y, q\) \+ \(1 − α\) · T²·KL/m); // α weighs the hard labels, as in lessons 02 and 03
    expect(distillationWorkflowDiagram().svg).not.toContain('stroke-width="3"');
  });
  it('rejects a step that does not exist', () => {
    expect(() => distillationWorkflowDiagram({ highlight: 8 })).toThrow(/^highlight must be an integer in \[1, 7\], got 8$/);
  });
});

describe('moeRoutingDiagram', () => {
  const gates = [0.05, 0.1, 0.41, 0.04, 0.08, 0.22, 0.06, 0.04];
  it('picks the top k by gate and renormalises their weights', () => {
    // Hand computation: experts 3 and 6 (0-based 2 and 5); 0.41 / 0.63 = 0.6508, 0.22 / 0.63 = 0.3492.
    const r = topKRouting(gates, 2);
    expect(r.experts).toEqual([2, 5]);
    expect(r.weights[0]).toBeCloseTo(0.41 / 0.63, 12);
    expect(r.weights[1]).toBeCloseTo(0.22 / 0.63, 12);
    expect(topKRouting([0.5, 0.25, 0.25], 2).experts).toEqual([0, 1]); // ties go to the lower index
    expect(topKRouting(gates, 2, false).weights).toEqual([0.41, 0.22]); // without renormalising: the gates
  });
  it('colours the chosen experts and says what runs', () => {
    const d = moeRoutingDiagram({ gates, topK: 2, token: '<cat>' });
    assertBalanced(d.svg);
    expect(d.svg.match(/<rect[^>]*fill="#ff7f0e"/g)).toHaveLength(2); // two orange gate bars
    expect(texts(d.svg).filter((t) => /^expert \d$/.test(t ?? ''))).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `expert ${i}`)); // 0-based, as route
    expect(d.svg).toContain('&lt;cat&gt;');
    // Without normalize (route's default) the weights are the gates.
    expect(d.text).toContain('expert 2 (gate 0.41, weight 0.41), expert 5 (gate 0.22, weight 0.22); 2 of 8 experts run (25 % of the expert compute)');
    expect(texts(d.svg)).toContain('w = the gates');
    const n = moeRoutingDiagram({ gates, topK: 2, normalize: true });
    expect(n.text).toContain('expert 2 (gate 0.41, weight 0.65), expert 5 (gate 0.22, weight 0.35)');
    expect(texts(n.svg)).toContain('w = gates renormalised');
  });
  it('rejects gates that are not a distribution and a bad k, naming them', () => {
    expect(() => moeRoutingDiagram({ gates: [0.5, 0.4], topK: 1 })).toThrow(/^gates must sum to 1 \(a softmax\), got 0\.9000$/);
    expect(() => moeRoutingDiagram({ gates: [0.5, 0.5], topK: 3 })).toThrow(/^topK must be an integer in \[1, 2\], got 3$/);
    expect(() => moeRoutingDiagram({ gates: [1.5, -0.5], topK: 1 })).toThrow(/^gates\[0\] must be a probability in \[0, 1\], got 1\.5$/);
    expect(() => moeRoutingDiagram({ gates: [1], topK: 1 })).toThrow(/^gates must hold 2 to 16 probabilities, got 1$/);
  });
});

describe('mlaDiagram', () => {
  it("states DeepSeek-V2's cache sizes", () => {
    // DeepSeek-V2 §2.1 (Table 1): MHA caches 2·n_h·d_h per token and layer; MLA d_c + d_R.
    // With n_h = 128, d_h = 128, d_c = 512, d_R = 64: 32 768 vs 576 values (4.5 d_h), 56.9×.
    const o = { dModel: 5120, dLatent: 512, heads: 128, headDim: 128, ropeDim: 64 };
    expect(kvCacheValues(o)).toEqual({ mha: 32768, mla: 576, ratio: 32768 / 576 });
    const d = mlaDiagram(o);
    assertBalanced(d.svg);
    expect(d.svg).toContain('multi-head attention 2·n_h·d_h = 32,768 values; MLA d_c + d_R = 576: 56.9× smaller.');
    expect(d.svg).toContain('k_t^R (RoPE)');
    expect(mlaDiagram({ ...o, ropeDim: 0 }).svg).not.toContain('RoPE');
  });
  it('rejects sizes that are not positive integers', () => {
    expect(() => mlaDiagram({ dModel: 64, dLatent: 0, heads: 4, headDim: 16 })).toThrow(/^dLatent must be a positive integer, got 0$/);
    expect(() => mlaDiagram({ dModel: 64, dLatent: 8, heads: 4, headDim: 16, ropeDim: -1 })).toThrow(/^ropeDim must be an integer ≥ 0, got -1$/);
  });
});

describe('grpoLoopDiagram', () => {
  it('draws the loop with the answers, rewards and advantages', () => {
    const d = grpoLoopDiagram({ groupSize: 8, rewards: [1, 0, 0, 1, 1, 0, 0, 0] });
    assertBalanced(d.svg);
    // lib/rl's groupAdvantages (sample std): mean 0.375, std √(1.875 / 7) = 0.51755;
    // (1 − 0.375) / 0.51755 = 1.2076, (0 − 0.375) / 0.51755 = −0.7246.
    expect(texts(d.svg)).toContain('A = +1.21');
    expect(texts(d.svg)).toContain('… 2 more'); // 6 answers drawn of 8
    expect(d.text).toContain('advantages 1.21, -0.72, -0.72, 1.21, 1.21, -0.72, -0.72, -0.72');
    expect(() => grpoLoopDiagram({ groupSize: 1 })).toThrow(/^groupSize must be an integer in \[2, 64\], got 1$/);
    expect(() => grpoLoopDiagram({ groupSize: 3, rewards: [1, 0] })).toThrow(/^rewards must hold groupSize = 3 values, got 2$/);
  });
});

describe('diagram', () => {
  it('carries its text twin as the SVG <desc>, escaped, so the description travels with the picture', () => {
    for (const d of [distillationWorkflowDiagram(), moeRoutingDiagram({ gates: [0.5, 0.3, 0.2], topK: 2, token: '<cat>' }), mlaDiagram({ dModel: 64, dLatent: 8, heads: 4, headDim: 16 }), grpoLoopDiagram({ groupSize: 8, rewards: [1, 0, 0, 1, 1, 0, 0, 0] })]) {
      const desc = d.svg.match(/<desc>([^<]*)<\/desc>/)?.[1];
      expect(desc).toBe(d.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'));
      expect(desc?.length).toBeGreaterThan(50);
    }
  });
});

describe('showDiagram', () => {
  it('sends SVG and text; outside a kernel the text goes to stdout', () => {
    const d = grpoLoopDiagram({ groupSize: 4 });
    expect(Object.keys(diagramBundle(d))).toEqual(['image/svg+xml', 'text/plain']);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    showDiagram(d);
    expect(out.join('')).toMatch(/^GRPO: prompt → policy samples G = 4 answers/);
  });
});
