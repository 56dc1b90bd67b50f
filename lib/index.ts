/**
 * @frugal-ai/lib: the shared library of the course. Lessons import from here.
 * Each concept lives in one file; this index re-exports them.
 */
export * from './backend';
export * from './random';
export * from './display';
export * from './table';
export * from './progress';
export * from './measure';
export * from './distill/temperature';
export * from './distill/kl';
export * from './distill/loss';
export * from './plot';
export * from './distill/ensemble';
export * from './distill/teacher-cache';
export * from './models/mlp';
export * from './train/loop';
export * from './optim/lamb';
export * from './optim/schedules';
export * from './data/digits';
export * from './course/digits-experiment';
export * from './repr';
export * from './results';
export * from './exercise';
export * from './diagrams';
