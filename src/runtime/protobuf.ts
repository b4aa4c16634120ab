/**
 * Minimal protobuf wire-format reader and writer: enough to inspect an ONNX model before ONNX Runtime sees it, and
 * to build tiny models (the provider canary, test packs) without a Python toolchain.
 */

export const WireType = { Varint: 0, I64: 1, Len: 2, I32: 5 } as const;

export class ProtobufError extends Error {}

export interface Field {
  field: number;
  wire: number;
  /** Varint value (as a JS number; exact below 2^53) for wire type 0. */
  varint?: number;
  /** Payload bytes for wire type 2. */
  bytes?: Uint8Array;
}

/** Iterates the top-level fields of one message. Throws ProtobufError on truncated or malformed input. */
export function* readFields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new ProtobufError('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
      shift *= 128;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  };
  while (pos < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new ProtobufError('field number 0');
    switch (wire) {
      case WireType.Varint:
        yield { field, wire, varint: readVarint() };
        break;
      case WireType.I64:
        if (pos + 8 > buf.length) throw new ProtobufError('truncated fixed64');
        pos += 8;
        yield { field, wire };
        break;
      case WireType.Len: {
        const len = readVarint();
        if (pos + len > buf.length) throw new ProtobufError(`length-delimited field ${field} runs past the end of its message`);
        yield { field, wire, bytes: buf.subarray(pos, pos + len) };
        pos += len;
        break;
      }
      case WireType.I32:
        if (pos + 4 > buf.length) throw new ProtobufError('truncated fixed32');
        pos += 4;
        yield { field, wire };
        break;
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
}

/** Decodes packed or unpacked repeated varints. */
export function readPackedVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let result = 0;
    let shift = 1;
    for (;;) {
      if (pos >= bytes.length) throw new ProtobufError('truncated packed varint');
      const b = bytes[pos++]!;
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) break;
      shift *= 128;
    }
    out.push(result);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
export const decodeString = (b: Uint8Array): string => utf8.decode(b);

/** Append-only message writer. */
export class ProtoWriter {
  private chunks: number[] = [];
  private parts: Uint8Array[] = [];

  private flush(): void {
    if (this.chunks.length) {
      this.parts.push(Uint8Array.from(this.chunks));
      this.chunks = [];
    }
  }
  private varint(v: number): void {
    if (v < 0) {
      // int64 negatives are ten-byte two's complement.
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) {
        this.chunks.push(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.chunks.push(Number(big));
      return;
    }
    while (v >= 0x80) {
      this.chunks.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.chunks.push(v);
  }
  int(field: number, v: number): this {
    this.varint(field * 8 + WireType.Varint);
    this.varint(v);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint(field * 8 + WireType.Len);
    this.varint(b.length);
    this.flush();
    this.parts.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    this.flush();
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
