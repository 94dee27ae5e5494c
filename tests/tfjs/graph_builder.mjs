// Writes small TF.js graph models (model.json + weight shards) the way the
// tfjs converter does: NodeDefs as protobuf JSON, constants in the
// weightsManifest (optionally float16 or uint8/uint16 quantised), shards
// concatenated in order.
import fs from 'node:fs';
import path from 'node:path';

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const DT = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

export const attr = {
  i: (v) => ({ i: String(v) }),
  f: (v) => ({ f: v }),
  b: (v) => ({ b: v }),
  s: (v) => ({ s: b64(v) }),
  type: (t) => ({ type: DT[t] ?? t }),
  ints: (v) => ({ list: { i: v.map(String) } }),
  strs: (v) => ({ list: { s: v.map(b64) } }),
  shape: (dims) => ({ shape: { dim: dims.map((d) => (d === 0 ? {} : { size: String(d) })) } }),
};

// IEEE binary16 from a float32, rounding to nearest even; subnormals, inf
// and NaN included.
export function toHalf(value) {
  const f = new Float32Array([value]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    let h = man >>> shift;
    const rem = man & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export class Graph {
  constructor() {
    this.nodes = [];
    this.specs = [];
    this.chunks = [];
  }

  placeholder(name, shape, dtype = 'float32') {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: attr.type(dtype), shape: attr.shape(shape) } });
    return name;
  }

  // A Const node and its weight. quant: undefined | 'float16' | 'uint8' | 'uint16'.
  konst(name, dtype, shape, values, quant) {
    this.nodes.push({
      name, op: 'Const',
      attr: { value: { tensor: { dtype: DT[dtype], tensorShape: attr.shape(shape).shape } }, dtype: attr.type(dtype) },
    });
    const spec = { name, shape, dtype };
    let bytes;
    if (quant === 'float16') {
      spec.quantization = { dtype: 'float16', original_dtype: dtype };
      bytes = Buffer.from(new Uint16Array(values.map(toHalf)).buffer);
    } else if (quant === 'uint8' || quant === 'uint16') {
      const lo = Math.min(...values), hi = Math.max(...values);
      const levels = quant === 'uint8' ? 255 : 65535;
      const scale = hi > lo ? (hi - lo) / levels : 1;
      spec.quantization = { dtype: quant, scale, min: lo, original_dtype: dtype };
      const q = values.map((v) => Math.max(0, Math.min(levels, Math.round((v - lo) / scale))));
      bytes = Buffer.from((quant === 'uint8' ? new Uint8Array(q) : new Uint16Array(q)).buffer);
    } else if (dtype === 'float32') {
      bytes = Buffer.from(new Float32Array(values).buffer);
    } else if (dtype === 'int32') {
      bytes = Buffer.from(new Int32Array(values).buffer);
    } else {
      bytes = Buffer.from(new Uint8Array(values.map((v) => (v ? 1 : 0))).buffer);
    }
    this.specs.push(spec);
    this.chunks.push(bytes);
    return name;
  }

  op(name, op, inputs, attrs = {}) {
    this.nodes.push({ name, op, input: inputs, attr: attrs });
    return name;
  }

  // Writes DIR/model.json and its shards; `groups` > 1 splits the weights
  // into several manifest groups, `shards` > 1 splits each group's bytes.
  write(dir, { signature, userSignature, groups = 1, shards = 1 } = {}) {
    fs.mkdirSync(dir, { recursive: true });
    const manifest = [];
    const per = Math.ceil(this.specs.length / groups) || 1;
    for (let g = 0; g < groups; g++) {
      const specs = this.specs.slice(g * per, (g + 1) * per);
      const bytes = Buffer.concat(this.chunks.slice(g * per, (g + 1) * per));
      const paths = [];
      const step = Math.ceil(bytes.length / shards) || 1;
      for (let s = 0; s < shards; s++) {
        const file = `group${g + 1}-shard${s + 1}of${shards}.bin`;
        fs.writeFileSync(path.join(dir, file), bytes.subarray(s * step, (s + 1) * step));
        paths.push(file);
      }
      if (specs.length || g === 0) manifest.push({ paths, weights: specs });
    }
    const json = {
      format: 'graph-model', generatedBy: 'capsearch tests', convertedBy: 'tests/tfjs/graph_builder.mjs',
      modelTopology: { node: this.nodes, library: {}, versions: {} },
      weightsManifest: manifest,
    };
    if (signature) json.signature = signature;
    if (userSignature) json.userDefinedMetadata = { signature: userSignature };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return path.join(dir, 'model.json');
  }
}
