// A weight source that quantizes on the fly: graphs built with a quantized LinearFormat ask for
// `<name>.weight.qweight` / `.scales` / `.zero_points` (MatMulNBits, block-quantized with `options`) or
// `<name>.weight.int8` / `.int8_scales` (W8A8, per output channel); this reads `<name>.weight` from the base
// source and quantizes it. Other names pass through.
import type { HostTensor } from '../tensor.ts';
import {
  type Int8ColumnWeight,
  type MatMulNBitsWeight,
  type QuantizeOptions,
  quantizeInt8Columns,
  quantizeMatMulNBits,
} from './quantize.ts';

export interface WeightReader {
  read(name: string): HostTensor;
}

const PART = /^(.*)\.(qweight|scales|zero_points)$/;
const INT8_PART = /^(.*)\.(int8|int8_scales)$/;

/** Without `options`, only W8A8 names are quantized (a graph that asks for MatMulNBits parts then fails). */
export function quantizedSource(base: WeightReader, options?: QuantizeOptions): WeightReader {
  // The parts of a weight are asked for one after another: keep the last quantized weight.
  let last: { name: string; q: MatMulNBitsWeight } | undefined;
  let lastInt8: { name: string; q: Int8ColumnWeight } | undefined;
  return {
    read(name) {
      const i8 = INT8_PART.exec(name);
      if (i8) {
        const [, weight, part] = i8;
        if (lastInt8?.name !== weight) lastInt8 = { name: weight, q: quantizeInt8Columns(base.read(weight)) };
        return part === 'int8' ? lastInt8.q.B : lastInt8.q.scales;
      }
      const m = PART.exec(name);
      if (!m || !options) return base.read(name);
      const [, weight, part] = m;
      if (last?.name !== weight) last = { name: weight, q: quantizeMatMulNBits(base.read(weight), options) };
      return part === 'qweight' ? last.q.B : part === 'scales' ? last.q.scales : last.q.zeroPoints;
    },
  };
}
