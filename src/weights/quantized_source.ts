// A weight source that quantizes on the fly: graphs built with a quantized LinearFormat ask for
// `<name>.weight.qweight` / `.scales` / `.zero_points`; this reads `<name>.weight` from the base source and
// block-quantizes it for MatMulNBits. Other names pass through.
import type { HostTensor } from '../tensor.ts';
import { type MatMulNBitsWeight, type QuantizeOptions, quantizeMatMulNBits } from './quantize.ts';

export interface WeightReader {
  read(name: string): HostTensor;
}

const PART = /^(.*)\.(qweight|scales|zero_points)$/;

export function quantizedSource(base: WeightReader, options: QuantizeOptions): WeightReader {
  // The three parts of a weight are asked for one after another: keep the last quantized weight.
  let last: { name: string; q: MatMulNBitsWeight } | undefined;
  return {
    read(name) {
      const m = PART.exec(name);
      if (!m) return base.read(name);
      const [, weight, part] = m;
      if (last?.name !== weight) last = { name: weight, q: quantizeMatMulNBits(base.read(weight), options) };
      return part === 'qweight' ? last.q.B : part === 'scales' ? last.q.scales : last.q.zeroPoints;
    },
  };
}
