/**
 * One diagram per technique of the course, drawn by the lib as SVG (shown with `showDiagram`):
 * the distillation workflow, MoE routing, MLA's compression path and the GRPO loop.
 * The small computations they print (top-k weights, cache sizes, group advantages) stay in their
 * files: the lib's own MoE, MLA and RL modules are the ones lessons compute with.
 */
export { COLORS as DIAGRAM_COLORS, diagramBundle, showDiagram, type Diagram } from './svg';
export { DISTILLATION_STEPS, distillationWorkflowDiagram, type WorkflowOptions, type WorkflowStep } from './distill-workflow';
export { moeRoutingDiagram, type MoeRoutingOptions } from './moe-routing';
export { mlaDiagram, type MlaDiagramOptions } from './mla';
export { grpoLoopDiagram, type GrpoDiagramOptions } from './grpo';
