/** The canonical JPEG stream of JPEG-LM (thesis ch. 6): see src/codec/README.md. */
export * from './canonical';
export * from './decoder';
export * from './encoder';
export * from './huffman';
export * from './markers';
export * from './prompt';
export * from './tables';
export * from './tokens';
export * from './validator';
