// Optimizers, schedules, clipping, parameter groups and gradient accumulation, run through the Trainer on a
// least-squares model (loss = Σ (x·Wᵀ + b − y)² / denominator), against a float64 host reference of torch's
// AdamW / SGD and clip_grad_norm_ written from the torch docs. Schedules against hand-derived values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maxRelError } from '../../bench/support/compare.ts';
import * as E from '../../src/engine/index.ts';
import { f32, type HostTensor } from '../../src/tensor.ts';
import type { OptimizerConfig } from '../../src/train/optim.ts';
import { Rng } from '../../src/train/rng.ts';
import { lrFactor, warmupFromRatio } from '../../src/train/schedule.ts';
import { matchesGroup, type ParamGroup, Trainer, type TrainerOptions } from '../../src/train/trainer.ts';

const [IN, OUT] = [4, 3];

function leastSquares(): E.Graph {
  const g = new E.Graph('lsq');
  const x = g.input('x', 'float32', ['rows', IN]);
  const y = g.input('y', 'float32', ['rows', OUT]);
  const denominator = g.input('denominator', 'float32', []);
  const pred = E.linear(x, g.param('w', 'float32', [OUT, IN]), g.param('b', 'float32', [OUT]));
  const r = E.sub(pred, y);
  g.output('loss', E.div(E.sum(E.mul(r, r), []), denominator));
  return g;
}

const random = (rng: Rng, shape: number[]) =>
  f32(
    shape,
    Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => rng.normal()),
  );

function batch(rng: Rng, rows: number, denominator = rows) {
  return { x: random(rng, [rows, IN]), y: random(rng, [rows, OUT]), denominator: f32([], [denominator]) };
}

/** The float64 reference: gradients of the least-squares loss, clipping, then torch's update rules. */
class Reference {
  p: Record<string, Float64Array>;
  state: Record<string, Float64Array[]> = {};
  step = 0;

  constructor(
    init: Map<string, HostTensor>,
    private readonly o: TrainerOptions,
  ) {
    this.p = {
      w: Float64Array.from(init.get('w')!.data as Float32Array),
      b: Float64Array.from(init.get('b')!.data as Float32Array),
    };
    for (const k of Object.keys(this.p))
      this.state[k] = [new Float64Array(this.p[k].length), new Float64Array(this.p[k].length)];
  }

  grads(batches: ReturnType<typeof batch>[]): Record<string, Float64Array> {
    const gw = new Float64Array(OUT * IN);
    const gb = new Float64Array(OUT);
    for (const bt of batches) {
      const [x, y, n] = [
        bt.x.data as Float32Array,
        bt.y.data as Float32Array,
        (bt.denominator.data as Float32Array)[0],
      ];
      for (let r = 0; r < x.length / IN; r++)
        for (let o = 0; o < OUT; o++) {
          let pred = this.p.b[o];
          for (let i = 0; i < IN; i++) pred += x[r * IN + i] * this.p.w[o * IN + i];
          const e = (2 * (pred - y[r * OUT + o])) / n;
          gb[o] += e;
          for (let i = 0; i < IN; i++) gw[o * IN + i] += e * x[r * IN + i];
        }
    }
    return { w: gw, b: gb };
  }

  update(batches: ReturnType<typeof batch>[]): number {
    const g = this.grads(batches);
    let norm = 0;
    for (const v of Object.values(g)) for (const e of v) norm += e * e;
    norm = Math.sqrt(norm);
    const coef = this.o.maxGradNorm === undefined ? 1 : Math.min(1, this.o.maxGradNorm / (norm + 1e-6));
    const factor = lrFactor(this.o.schedule ?? { kind: 'constant' }, this.step);
    this.step++;
    for (const name of Object.keys(this.p)) {
      const group = this.o.groups?.find((gr) => matchesGroup(gr, name));
      const lr = (group?.lr ?? this.o.lr) * factor;
      const wd = group ? (group.weightDecay ?? 0) : (this.o.weightDecay ?? 0);
      const [p, [m, v], c] = [this.p[name], this.state[name], this.o.optimizer];
      for (let i = 0; i < p.length; i++) {
        const gi = g[name][i] * coef;
        if (c.kind === 'adamw') {
          const [b1, b2] = c.betas ?? [0.9, 0.999];
          m[i] += (1 - b1) * (gi - m[i]);
          v[i] = b2 * v[i] + (1 - b2) * gi * gi;
          p[i] *= 1 - lr * wd;
          const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** this.step) + (c.eps ?? 1e-8);
          p[i] -= (lr / (1 - b1 ** this.step)) * (m[i] / denom);
        } else {
          let d = gi + wd * p[i];
          if ((c.momentum ?? 0) > 0) {
            m[i] = c.momentum! * m[i] + d;
            d = c.nesterov ? d + c.momentum! * m[i] : m[i];
          }
          p[i] -= lr * d;
        }
      }
    }
    return norm;
  }
}

const GROUPS: ParamGroup[] = [{ name: 'matrix', match: /^w$/, lr: 0.1, weightDecay: 0.1 }];

const optimizers: [string, OptimizerConfig, Partial<TrainerOptions>][] = [
  [
    'AdamW (two groups, clipping, linear warmup/decay)',
    { kind: 'adamw', betas: [0.8, 0.95], eps: 1e-6 },
    {
      schedule: { kind: 'linear', warmupSteps: 2, totalSteps: 6 },
      maxGradNorm: 0.5,
    },
  ],
  ['AdamW (constant rate, no clipping)', { kind: 'adamw' }, {}],
  [
    'SGD with momentum and weight decay (cosine)',
    { kind: 'sgd', momentum: 0.9 },
    {
      schedule: { kind: 'cosine', warmupSteps: 1, totalSteps: 5 },
      maxGradNorm: 1,
    },
  ],
  ['SGD Nesterov', { kind: 'sgd', momentum: 0.5, nesterov: true }, {}],
  ['SGD plain', { kind: 'sgd' }, {}],
];

describe('optimizers against a float64 torch-rule reference', () => {
  for (const [name, optimizer, extra] of optimizers)
    test(name, async (t) => {
      const rng = new Rng(3);
      const init = new Map([
        ['w', random(rng, [OUT, IN])],
        ['b', random(rng, [OUT])],
      ]);
      const o: TrainerOptions = {
        trainable: () => true,
        optimizer,
        lr: 0.05,
        weightDecay: 0,
        groups: GROUPS,
        ...extra,
      };
      const trainer = Trainer.create(leastSquares(), init, o);
      const ref = new Reference(init, o);
      let worst = 0;
      try {
        for (let s = 0; s < 5; s++) {
          const bt = batch(rng, 6);
          const res = await trainer.step([bt]);
          const norm = ref.update([bt]);
          if (o.maxGradNorm !== undefined)
            assert.ok(Math.abs(res.gradNorm! - norm) <= 1e-5 * norm, `grad norm ${res.gradNorm} vs ${norm}`);
          const params = trainer.parameters();
          for (const p of ['w', 'b'])
            worst = Math.max(worst, maxRelError(params.get(p)!.data as Float32Array, ref.p[p]));
          for (const [k, v] of trainer.optimizerState()) {
            const [slot, p] = k.split(':');
            const idx = slot === 'exp_avg_sq' ? 1 : 0;
            worst = Math.max(worst, maxRelError(v.data as Float32Array, ref.state[p][idx]));
          }
        }
      } finally {
        await trainer.release();
      }
      t.diagnostic(`max relative error of parameters and state after 5 steps: ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-5, `max relative error ${worst}`);
    });

  test('gradient accumulation: micro-batches give the step of their concatenation', async () => {
    const rng = new Rng(5);
    const init = new Map([
      ['w', random(rng, [OUT, IN])],
      ['b', random(rng, [OUT])],
    ]);
    const o: TrainerOptions = { trainable: () => true, optimizer: { kind: 'sgd', momentum: 0.9 }, lr: 0.05 };
    const whole = Trainer.create(leastSquares(), init, o);
    const parts = Trainer.create(leastSquares(), init, o);
    try {
      for (const sizes of [
        [2, 3],
        [1, 2, 3, 1],
      ]) {
        const total = sizes.reduce((a, b) => a + b, 0);
        const micro = sizes.map((n) => batch(rng, n, total));
        const cat = (k: 'x' | 'y', width: number) =>
          f32(
            [total, width],
            micro.flatMap((m) => Array.from(m[k].data as Float32Array)),
          );
        const one = await whole.step([{ x: cat('x', IN), y: cat('y', OUT), denominator: f32([], [total]) }]);
        const many = await parts.step(micro);
        const sum = many.losses.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - one.losses[0]) <= 1e-6 * one.losses[0], `loss ${sum} vs ${one.losses[0]}`);
        for (const p of ['w', 'b']) {
          const e = maxRelError(
            parts.parameters().get(p)!.data as Float32Array,
            whole.parameters().get(p)!.data as Float32Array,
          );
          assert.ok(e <= 1e-6, `${p} after ${sizes.length} micro-batches: relative error ${e}`);
        }
      }
    } finally {
      await whole.release();
      await parts.release();
    }
  });

  test('a NaN loss skips the update: parameters and state unchanged, counted; later steps as if it never came', async () => {
    const rng = new Rng(7);
    const init = new Map([
      ['w', random(rng, [OUT, IN])],
      ['b', random(rng, [OUT])],
    ]);
    const o: TrainerOptions = {
      trainable: () => true,
      optimizer: { kind: 'adamw' },
      lr: 0.05,
      weightDecay: 0.1,
    };
    const guarded = Trainer.create(leastSquares(), init, o);
    const clean = Trainer.create(leastSquares(), init, o);
    const snapshot = (t: Trainer) =>
      new Map(
        [...t.parameters(), ...t.optimizerState()].map(([k, v]) => [k, Array.from(v.data as Float32Array)]),
      );
    try {
      const [first, last] = [batch(rng, 3), batch(rng, 3)];
      await guarded.step([first]);
      await clean.step([first]);
      const before = snapshot(guarded);
      const bad = await guarded.step([{ ...batch(rng, 3), denominator: f32([], [Number.NaN]) }]);
      assert.ok(Number.isNaN(bad.losses[0]), 'the loss is NaN');
      assert.equal(bad.skipped, true);
      assert.deepEqual(snapshot(guarded), before, 'parameters and optimizer state unchanged');
      assert.equal(guarded.skippedSteps, 1);
      assert.equal(guarded.stepsDone, 2, 'the step is still counted (schedule and data move on)');
      const next = await guarded.step([last]);
      await clean.step([last]);
      assert.equal(next.skipped, undefined);
      assert.deepEqual(
        snapshot(guarded),
        snapshot(clean),
        'AdamW bias correction counts applied updates only',
      );
    } finally {
      await guarded.release();
      await clean.release();
    }
  });

  test('frozen parameters get no update and no gradient graph', async () => {
    const rng = new Rng(6);
    const init = new Map([
      ['w', random(rng, [OUT, IN])],
      ['b', random(rng, [OUT])],
    ]);
    const trainer = Trainer.create(leastSquares(), init, {
      trainable: (n) => n === 'b',
      optimizer: { kind: 'adamw' },
      lr: 0.1,
    });
    try {
      const g = trainer.buildGraph('step');
      assert.deepEqual(g.outputs.map((o) => o.name).sort(), [
        'grads_finite',
        'loss',
        'new:b',
        'new:exp_avg:b',
        'new:exp_avg_sq:b',
      ]);
      await trainer.step([batch(rng, 4)]);
      const w = trainer.parameters().get('w')!;
      assert.equal(w, init.get('w'), 'the frozen weight is fed as given, never replaced');
      assert.notDeepEqual(trainer.parameters().get('b')!.data, init.get('b')!.data);
    } finally {
      await trainer.release();
    }
  });
});

describe('learning-rate schedules (HF transformers semantics)', () => {
  test('constant with warmup', () => {
    const s = { kind: 'constant' as const, warmupSteps: 4 };
    assert.deepEqual(
      [0, 1, 2, 4, 100].map((k) => lrFactor(s, k)),
      [0, 0.25, 0.5, 1, 1],
    );
  });
  test('linear decay after warmup', () => {
    const s = { kind: 'linear' as const, warmupSteps: 2, totalSteps: 10 };
    assert.deepEqual(
      [0, 1, 2, 6, 10, 12].map((k) => lrFactor(s, k)),
      [0, 0.5, 1, 0.5, 0, 0],
    );
  });
  test('cosine decay after warmup', () => {
    const s = { kind: 'cosine' as const, warmupSteps: 2, totalSteps: 10 };
    const got = [2, 4, 6, 8, 10].map((k) => lrFactor(s, k));
    const want = [1, (1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2, 0];
    got.forEach((v, i) => {
      assert.ok(Math.abs(v - want[i]) < 1e-15, `step ${2 * i + 2}: ${v} vs ${want[i]}`);
    });
  });
  test('warmup steps from a ratio round up (Spatial-MLLM SFT: warmup_ratio 0.03)', () => {
    assert.equal(warmupFromRatio(1000, 0.03), 30);
    assert.equal(warmupFromRatio(1001, 0.03), 31);
  });
});
