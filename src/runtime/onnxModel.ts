/**
 * ONNX model inspection (before ONNX Runtime parses a file) and a small builder for tiny graphs.
 * Field numbers follow onnx/onnx.proto3.
 */
import { ProtoWriter, ProtobufError, decodeString, readFields } from './protobuf';

export type TensorDType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'float64' | 'string';
const DTYPE_CODES: Record<TensorDType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11 };
const CODE_DTYPES = new Map<number, TensorDType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as TensorDType]));
export const dtypeFromCode = (code: number): TensorDType | `onnx-type-${number}` => CODE_DTYPES.get(code) ?? `onnx-type-${code}`;

export type Dim = number | string;
export interface ValueSpec {
  name: string;
  dtype: TensorDType | string;
  shape: Dim[];
}

export interface ExternalRef {
  tensor: string;
  location: string;
  offset?: number;
  length?: number;
}

export interface OnnxScan {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  /** Domains used by nodes anywhere in the model ('' is the default ai.onnx domain). */
  nodeDomains: string[];
  opTypes: string[];
  nodeCount: number;
  maxGraphDepth: number;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  externalRefs: ExternalRef[];
}

export interface ScanLimits {
  maxGraphDepth: number;
  maxNodes: number;
}
export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxGraphDepth: 32, maxNodes: 200_000 };

export class OnnxScanError extends Error {}

/** Walks the whole model: main graph, nested subgraphs in attributes, local functions and training graphs. */
export function scanOnnxModel(bytes: Uint8Array, limits: ScanLimits = DEFAULT_SCAN_LIMITS): OnnxScan {
  const scan: OnnxScan = { irVersion: 0, opsets: [], nodeDomains: [], opTypes: [], nodeCount: 0, maxGraphDepth: 0, inputs: [], outputs: [], externalRefs: [] };
  const domains = new Set<string>();
  const ops = new Set<string>();
  let sawGraph = false;

  const tensor = (b: Uint8Array): void => {
    let name = '';
    let location: number | undefined;
    const entries: Record<string, string> = {};
    for (const f of readFields(b)) {
      if (f.field === 8 && f.bytes) name = decodeString(f.bytes);
      else if (f.field === 14 && f.varint !== undefined) location = f.varint;
      else if (f.field === 13 && f.bytes) {
        let key = '';
        let value = '';
        for (const e of readFields(f.bytes)) {
          if (e.field === 1 && e.bytes) key = decodeString(e.bytes);
          if (e.field === 2 && e.bytes) value = decodeString(e.bytes);
        }
        entries[key] = value;
      }
    }
    const hasExternalEntries = Object.keys(entries).length > 0;
    if (location === 1 || hasExternalEntries) {
      const ref: ExternalRef = { tensor: name, location: entries['location'] ?? '' };
      if (entries['offset'] !== undefined) ref.offset = Number(entries['offset']);
      if (entries['length'] !== undefined) ref.length = Number(entries['length']);
      scan.externalRefs.push(ref);
    }
  };
  const sparseTensor = (b: Uint8Array): void => {
    for (const f of readFields(b)) if ((f.field === 1 || f.field === 2) && f.bytes) tensor(f.bytes);
  };
  const valueInfo = (b: Uint8Array): ValueSpec => {
    const spec: ValueSpec = { name: '', dtype: 'unknown', shape: [] };
    for (const f of readFields(b)) {
      if (f.field === 1 && f.bytes) spec.name = decodeString(f.bytes);
      if (f.field === 2 && f.bytes) {
        for (const t of readFields(f.bytes)) {
          if (t.field !== 1 || !t.bytes) continue; // tensor_type only
          for (const tt of readFields(t.bytes)) {
            if (tt.field === 1 && tt.varint !== undefined) spec.dtype = dtypeFromCode(tt.varint);
            if (tt.field === 2 && tt.bytes) {
              for (const d of readFields(tt.bytes)) {
                if (d.field !== 1 || !d.bytes) continue;
                let dim: Dim = '?';
                for (const dd of readFields(d.bytes)) {
                  if (dd.field === 1 && dd.varint !== undefined) dim = dd.varint;
                  if (dd.field === 2 && dd.bytes) dim = decodeString(dd.bytes);
                }
                spec.shape.push(dim);
              }
            }
          }
        }
      }
    }
    return spec;
  };
  const attribute = (b: Uint8Array, depth: number): void => {
    for (const f of readFields(b)) {
      if (!f.bytes) continue;
      if (f.field === 5 || f.field === 10) tensor(f.bytes);
      else if (f.field === 6 || f.field === 11) graph(f.bytes, depth + 1, false);
      else if (f.field === 22 || f.field === 23) sparseTensor(f.bytes);
    }
  };
  const node = (b: Uint8Array, depth: number): void => {
    scan.nodeCount++;
    if (scan.nodeCount > limits.maxNodes) throw new OnnxScanError(`the model has more than ${limits.maxNodes} nodes`);
    let domain = '';
    let opType = '';
    const attrs: Uint8Array[] = [];
    for (const f of readFields(b)) {
      if (f.field === 4 && f.bytes) opType = decodeString(f.bytes);
      else if (f.field === 7 && f.bytes) domain = decodeString(f.bytes);
      else if (f.field === 5 && f.bytes) attrs.push(f.bytes);
    }
    domains.add(domain === 'ai.onnx' ? '' : domain);
    ops.add(domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType);
    for (const a of attrs) attribute(a, depth);
  };
  const graph = (b: Uint8Array, depth: number, isMain: boolean): void => {
    if (depth > limits.maxGraphDepth) throw new OnnxScanError(`subgraphs are nested deeper than ${limits.maxGraphDepth} levels`);
    scan.maxGraphDepth = Math.max(scan.maxGraphDepth, depth);
    // Counted before any node is read, so a graph over the limit is refused without walking it.
    let nodes = 0;
    for (const f of readFields(b)) if (f.field === 1 && f.bytes) nodes++;
    if (scan.nodeCount + nodes > limits.maxNodes) throw new OnnxScanError(`the model has more than ${limits.maxNodes} nodes`);
    for (const f of readFields(b)) {
      if (!f.bytes) continue;
      if (f.field === 1) node(f.bytes, depth);
      else if (f.field === 5) tensor(f.bytes);
      else if (f.field === 15) sparseTensor(f.bytes);
      else if (isMain && f.field === 11) scan.inputs.push(valueInfo(f.bytes));
      else if (isMain && f.field === 12) scan.outputs.push(valueInfo(f.bytes));
    }
  };
  const functionProto = (b: Uint8Array): void => {
    for (const f of readFields(b)) if (f.field === 7 && f.bytes) node(f.bytes, 1);
  };

  try {
    for (const f of readFields(bytes)) {
      if (f.field === 1 && f.varint !== undefined) scan.irVersion = f.varint;
      else if (f.field === 8 && f.bytes) {
        let domain = '';
        let version = 0;
        for (const o of readFields(f.bytes)) {
          if (o.field === 1 && o.bytes) domain = decodeString(o.bytes);
          if (o.field === 2 && o.varint !== undefined) version = o.varint;
        }
        scan.opsets.push({ domain, version });
      } else if (f.field === 7 && f.bytes) {
        sawGraph = true;
        graph(f.bytes, 1, true);
      } else if (f.field === 25 && f.bytes) functionProto(f.bytes);
      else if (f.field === 20 && f.bytes) {
        for (const t of readFields(f.bytes)) if ((t.field === 1 || t.field === 2) && t.bytes) graph(t.bytes, 1, false);
      }
    }
  } catch (e) {
    if (e instanceof ProtobufError) throw new OnnxScanError(`not a valid ONNX file (${e.message})`);
    throw e;
  }
  if (!sawGraph) throw new OnnxScanError('not a valid ONNX file (no graph)');
  scan.nodeDomains = [...domains].sort();
  scan.opTypes = [...ops].sort();
  return scan;
}

// ---------------------------------------------------------------------------------------------------------------
// Builder

export interface TensorInit {
  name: string;
  dtype: 'float32' | 'int64' | 'int32';
  dims: number[];
  data?: Float32Array | BigInt64Array | Int32Array;
  /** Store the data outside the model file (ONNX external data). */
  external?: { location: string; offset?: number; length?: number };
}
export interface NodeInit {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: { name: string; int?: number; ints?: number[] }[];
}
export interface ModelInit {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeInit[];
  initializers?: TensorInit[];
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
}

function valueInfoMessage(v: ValueSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const code = DTYPE_CODES[v.dtype as TensorDType];
  if (code === undefined) throw new Error(`unsupported dtype ${v.dtype}`);
  const tensorType = new ProtoWriter().int(1, code).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function tensorMessage(t: TensorInit): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, t.dims).int(2, DTYPE_CODES[t.dtype]).string(8, t.name);
  if (t.external) {
    const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, entry('location', t.external.location));
    if (t.external.offset !== undefined) w.message(13, entry('offset', String(t.external.offset)));
    if (t.external.length !== undefined) w.message(13, entry('length', String(t.external.length)));
    w.int(14, 1);
  } else if (t.data) {
    w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return w;
}

/** Serialises a small ONNX model (IR 8). */
export function buildOnnxModel(m: ModelInit): Uint8Array {
  const graph = new ProtoWriter();
  m.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, n.name ?? `${n.opType}_${i}`).string(4, n.opType);
    for (const a of n.attributes ?? []) {
      const attr = new ProtoWriter().string(1, a.name);
      if (a.int !== undefined) attr.int(3, a.int).int(20, 2);
      else if (a.ints) attr.packedInts(8, a.ints).int(20, 7);
      node.message(5, attr);
    }
    if (n.domain) node.string(7, n.domain);
    graph.message(1, node);
  });
  graph.string(2, 'concert');
  for (const t of m.initializers ?? []) graph.message(5, tensorMessage(t));
  for (const v of m.inputs) graph.message(11, valueInfoMessage(v));
  for (const v of m.outputs) graph.message(12, valueInfoMessage(v));
  const model = new ProtoWriter().int(1, 8).string(2, 'concert').message(7, graph);
  model.message(8, new ProtoWriter().string(1, '').int(2, m.opset ?? 14));
  for (const o of m.extraOpsets ?? []) model.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version));
  return model.finish();
}
