// The emscripten module factory of `tinyh264` (no types shipped): see h264Decoder.ts.
declare module 'tinyh264/lib/TinyH264.js' {
  const factory: (module?: object) => Promise<unknown>;
  export default factory;
}
