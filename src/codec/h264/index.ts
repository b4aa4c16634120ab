/** H.264 (AVC) Annex B streams of AVC-LM (thesis ch. 6, issue #15): see src/codec/README.md. */
export * from './bits';
export * from './errors';
export * from './nal';
export * from './params';
export * from './reader';
export * from './slice';
export * from './stream';
export * from './tables';
export * from './validator';
