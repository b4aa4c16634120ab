/**
 * Open Inference Protocol v2 (KServe v2) REST bodies: the JSON form (`data` as a flat row-major list) and Triton's
 * binary tensor extension (a JSON header, then each tensor's raw little-endian bytes, row-major, no padding; the
 * header's length in `Inference-Header-Content-Length`; per tensor `parameters.binary_data_size`; BYTES elements
 * prefixed with a 4-byte length). Pure functions over byte arrays; no I/O.
 */
import type { OipDatatype } from './signature';

export const HEADER_LENGTH = 'inference-header-content-length';

export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export interface Tensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  /** A typed array of the datatype (FP16 as Uint16Array, BOOL as Uint8Array), or the elements of BYTES. */
  data: TensorData | Uint8Array[];
  parameters?: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: Tensor[];
  /** Outputs to return; `binary` asks for the binary form. */
  outputs?: { name: string; binary?: boolean }[];
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: Tensor[];
}

export class OipCodecError extends Error {}

const ELEMENT: Record<Exclude<OipDatatype, 'BYTES'>, { bytes: number; make: (buf: ArrayBuffer, n: number) => TensorData }> = {
  BOOL: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  UINT8: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  INT8: { bytes: 1, make: (b, n) => new Int8Array(b, 0, n) },
  UINT16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  INT16: { bytes: 2, make: (b, n) => new Int16Array(b, 0, n) },
  FP16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  UINT32: { bytes: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  INT32: { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  FP32: { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  UINT64: { bytes: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
  INT64: { bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  FP64: { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
};

const DATATYPES = new Set<string>([...Object.keys(ELEMENT), 'BYTES']);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Deepest nesting of a tensor's JSON `data` lists (a tensor of rank r nests r levels). */
export const MAX_DATA_DEPTH = 32;

/** A shape for a message, without serialising whatever a request put in it (a deeply nested list overflows the stack). */
const shapeText = (shape: readonly unknown[]): string =>
  shape.length <= 64 && shape.every((d) => typeof d === 'number') ? JSON.stringify(shape) : `of ${shape.length} dimensions`;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OipCodecError(`shape ${shapeText(shape)} has a dimension that is not a non-negative integer`);
    n *= d;
  }
  if (n > 2 ** 31) throw new OipCodecError(`shape ${shapeText(shape)} is too large`);
  return n;
}

/** The values of nested lists in row-major order, without recursion (Array#flat(Infinity) overflows the stack). */
function flatten(name: string, data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  const out: unknown[] = [];
  const stack: { list: unknown[]; at: number }[] = [{ list: data, at: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.at >= top.list.length) {
      stack.pop();
      continue;
    }
    const v = top.list[top.at++];
    if (!Array.isArray(v)) out.push(v);
    else if (stack.length >= MAX_DATA_DEPTH) throw new OipCodecError(`tensor ${name}: data is nested deeper than ${MAX_DATA_DEPTH} levels`);
    else stack.push({ list: v, at: 0 });
  }
  return out;
}

/** The raw bytes of a tensor (little-endian, row-major); BYTES elements each get a 4-byte length prefix. */
export function tensorBytes(t: Tensor): Uint8Array {
  if (!LITTLE_ENDIAN) throw new OipCodecError('the binary tensor form needs a little-endian host');
  if (t.datatype === 'BYTES') {
    const items = t.data as Uint8Array[];
    const out = new Uint8Array(items.reduce((s, b) => s + 4 + b.length, 0));
    const view = new DataView(out.buffer);
    let o = 0;
    for (const b of items) {
      view.setUint32(o, b.length, true);
      out.set(b, o + 4);
      o += 4 + b.length;
    }
    return out;
  }
  const d = t.data as TensorData;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A tensor from raw bytes (copied, so the result is aligned). */
export function tensorFromBytes(name: string, datatype: OipDatatype, shape: number[], bytes: Uint8Array): Tensor {
  if (!DATATYPES.has(datatype)) throw new OipCodecError(`tensor ${name}: unknown datatype ${String(datatype)}`);
  const n = elementCount(shape);
  if (datatype === 'BYTES') {
    const items: Uint8Array[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let o = 0;
    while (o < bytes.length) {
      if (o + 4 > bytes.length) throw new OipCodecError(`tensor ${name}: truncated BYTES element`);
      const len = view.getUint32(o, true);
      if (o + 4 + len > bytes.length) throw new OipCodecError(`tensor ${name}: truncated BYTES element`);
      items.push(bytes.slice(o + 4, o + 4 + len));
      o += 4 + len;
    }
    if (items.length !== n) throw new OipCodecError(`tensor ${name}: ${items.length} BYTES elements for shape ${shapeText(shape)}`);
    return { name, datatype, shape, data: items };
  }
  const el = ELEMENT[datatype];
  if (bytes.length !== n * el.bytes)
    throw new OipCodecError(`tensor ${name}: ${bytes.length} bytes for ${datatype}${shapeText(shape)} (expected ${n * el.bytes})`);
  if (!LITTLE_ENDIAN) throw new OipCodecError('the binary tensor form needs a little-endian host');
  const buf = new ArrayBuffer(bytes.length);
  new Uint8Array(buf).set(bytes);
  return { name, datatype, shape, data: el.make(buf, n) };
}

/** The JSON `data` list of a tensor (INT64/UINT64 as numbers: they must be safe integers; FP16 has no JSON form). */
function jsonData(t: Tensor): unknown[] {
  if (t.datatype === 'FP16') throw new OipCodecError(`tensor ${t.name}: FP16 has no JSON form, use the binary form`);
  if (t.datatype === 'BYTES') return (t.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
  if (t.datatype === 'BOOL') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array)
    return Array.from(t.data, (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw new OipCodecError(`tensor ${t.name}: ${v} is not a safe integer for JSON`);
      return n;
    });
  return Array.from(t.data as ArrayLike<number>);
}

/** A tensor from JSON `data` (flat or nested lists, row-major). */
export function tensorFromJson(name: string, datatype: OipDatatype, shape: number[], data: unknown): Tensor {
  if (!DATATYPES.has(datatype)) throw new OipCodecError(`tensor ${name}: unknown datatype ${String(datatype)}`);
  const n = elementCount(shape);
  const flat = flatten(name, data);
  if (flat.length !== n) throw new OipCodecError(`tensor ${name}: ${flat.length} values for shape ${shapeText(shape)}`);
  if (datatype === 'BYTES') return { name, datatype, shape, data: flat.map((s) => new TextEncoder().encode(String(s))) };
  if (datatype === 'FP16') throw new OipCodecError(`tensor ${name}: FP16 has no JSON form`);
  const el = ELEMENT[datatype];
  const out = el.make(new ArrayBuffer(n * el.bytes), n);
  for (let i = 0; i < n; i++) {
    const v = flat[i];
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new OipCodecError(`tensor ${name}: ${String(v)} is not an integer`);
      out[i] = BigInt(v);
    } else if (datatype === 'BOOL') (out as Uint8Array)[i] = v === true || v === 1 ? 1 : 0;
    else {
      if (typeof v !== 'number') throw new OipCodecError(`tensor ${name}: ${String(v)} is not a number`);
      (out as Float32Array)[i] = v;
    }
  }
  return { name, datatype, shape, data: out };
}

interface WireTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  parameters?: Record<string, unknown>;
  data?: unknown;
}

/** Encodes tensors in a JSON header: with `binary`, their bytes follow the header in order. */
function encodeBody(
  header: Record<string, unknown>,
  key: 'inputs' | 'outputs',
  tensors: readonly Tensor[],
  binary: boolean,
): { body: Uint8Array; headerLength?: number } {
  const parts: Uint8Array[] = [];
  const wire: WireTensor[] = tensors.map((t) => {
    elementCount(t.shape);
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (!binary) return { ...base, ...(t.parameters && { parameters: t.parameters }), data: jsonData(t) };
    const bytes = tensorBytes(t);
    parts.push(bytes);
    return { ...base, parameters: { ...t.parameters, binary_data_size: bytes.length } };
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...header, [key]: wire }));
  if (!binary) return { body: json };
  const body = new Uint8Array(json.length + parts.reduce((s, p) => s + p.length, 0));
  body.set(json, 0);
  let o = json.length;
  for (const p of parts) {
    body.set(p, o);
    o += p.length;
  }
  return { body, headerLength: json.length };
}

/** Splits a body into its JSON header and the tensors of `key`, binary or JSON. */
function decodeBody(body: Uint8Array, headerLength: number | undefined, key: 'inputs' | 'outputs'): { json: Record<string, unknown>; tensors: Tensor[] } {
  const jl = headerLength ?? body.length;
  if (!Number.isInteger(jl) || jl < 0 || jl > body.length)
    throw new OipCodecError(`Inference-Header-Content-Length ${headerLength} does not fit a body of ${body.length} bytes`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(body.subarray(0, jl))) as Record<string, unknown>;
  } catch {
    throw new OipCodecError('the body is not JSON (or its Inference-Header-Content-Length is wrong)');
  }
  if (!json || typeof json !== 'object' || !Array.isArray(json[key])) throw new OipCodecError(`the body has no "${key}" list`);
  let o = jl;
  const tensors = (json[key] as WireTensor[]).map((w) => {
    if (!w || typeof w.name !== 'string' || typeof w.datatype !== 'string' || !Array.isArray(w.shape))
      throw new OipCodecError(`a tensor of "${key}" needs name, datatype and shape`);
    const { binary_data_size: size, ...rest } = (w.parameters ?? {}) as Record<string, unknown>;
    let t: Tensor;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || o + size > body.length)
        throw new OipCodecError(`tensor ${w.name}: binary_data_size ${typeof size === 'number' ? size : `(a ${typeof size})`} runs past the body`);
      t = tensorFromBytes(w.name, w.datatype, w.shape, body.subarray(o, o + size));
      o += size;
    } else t = tensorFromJson(w.name, w.datatype, w.shape, w.data);
    if (Object.keys(rest).length) t.parameters = rest;
    return t;
  });
  if (o !== body.length) throw new OipCodecError(`${body.length - o} bytes after the last binary tensor`);
  return { json, tensors };
}

export function encodeInferRequest(r: InferRequest, binary: boolean): { body: Uint8Array; headerLength?: number } {
  const header: Record<string, unknown> = {};
  if (r.id !== undefined) header['id'] = r.id;
  if (r.parameters) header['parameters'] = r.parameters;
  if (r.outputs) header['outputs'] = r.outputs.map((o) => ({ name: o.name, ...(o.binary && { parameters: { binary_data: true } }) }));
  return encodeBody(header, 'inputs', r.inputs, binary);
}

export function decodeInferRequest(body: Uint8Array, headerLength?: number): InferRequest & { binaryOutputs: Set<string>; binaryAll: boolean } {
  const { json, tensors } = decodeBody(body, headerLength, 'inputs');
  const params = json['parameters'] as Record<string, unknown> | undefined;
  const outputs = Array.isArray(json['outputs']) ? (json['outputs'] as { name: string; parameters?: Record<string, unknown> }[]) : undefined;
  if (outputs?.some((o) => typeof o?.name !== 'string')) throw new OipCodecError('every entry of "outputs" needs a name');
  const binaryOutputs = new Set((outputs ?? []).filter((o) => o?.parameters?.['binary_data'] === true).map((o) => String(o.name)));
  return {
    ...(typeof json['id'] === 'string' && { id: json['id'] }),
    ...(params && typeof params === 'object' && { parameters: params }),
    inputs: tensors,
    ...(outputs && { outputs: outputs.map((o) => ({ name: String(o?.name), binary: binaryOutputs.has(String(o?.name)) })) }),
    binaryOutputs,
    binaryAll: params?.['binary_data_output'] === true,
  };
}

/** Encodes a response; outputs named in `binary` (or all, with `true`) travel in the binary form. */
export function encodeInferResponse(r: InferResponse, binary: boolean | Set<string>): { body: Uint8Array; headerLength?: number } {
  const header: Record<string, unknown> = { model_name: r.model_name };
  if (r.model_version !== undefined) header['model_version'] = r.model_version;
  if (r.id !== undefined) header['id'] = r.id;
  if (r.parameters) header['parameters'] = r.parameters;
  const isBinary = (t: Tensor) => binary === true || (binary instanceof Set && binary.has(t.name));
  if (!r.outputs.some(isBinary)) return encodeBody(header, 'outputs', r.outputs, false);
  // Mixed: JSON tensors carry `data`, binary ones their size; bytes follow in order.
  const parts: Uint8Array[] = [];
  const wire = r.outputs.map((t) => {
    if (!isBinary(t)) return { name: t.name, datatype: t.datatype, shape: t.shape, ...(t.parameters && { parameters: t.parameters }), data: jsonData(t) };
    const bytes = tensorBytes(t);
    parts.push(bytes);
    return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: { ...t.parameters, binary_data_size: bytes.length } };
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...header, outputs: wire }));
  const body = new Uint8Array(json.length + parts.reduce((s, p) => s + p.length, 0));
  body.set(json, 0);
  let o = json.length;
  for (const p of parts) {
    body.set(p, o);
    o += p.length;
  }
  return { body, headerLength: json.length };
}

export function decodeInferResponse(body: Uint8Array, headerLength?: number): InferResponse {
  const { json, tensors } = decodeBody(body, headerLength, 'outputs');
  const params = json['parameters'];
  return {
    model_name: typeof json['model_name'] === 'string' ? json['model_name'] : '',
    ...(typeof json['model_version'] === 'string' && { model_version: json['model_version'] }),
    ...(typeof json['id'] === 'string' && { id: json['id'] }),
    ...(params !== null && typeof params === 'object' && { parameters: params as Record<string, unknown> }),
    outputs: tensors,
  };
}

/** The named tensor, or an error naming what is missing. */
export function tensorNamed(tensors: readonly Tensor[], name: string, datatype?: OipDatatype): Tensor {
  const t = tensors.find((x) => x.name === name);
  if (!t) throw new OipCodecError(`tensor "${name}" is missing`);
  if (datatype && t.datatype !== datatype) throw new OipCodecError(`tensor "${name}" must be ${datatype} (got ${t.datatype})`);
  return t;
}
