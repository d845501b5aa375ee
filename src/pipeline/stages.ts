// Per-stage progress of a pipeline run: each stage is reported when it starts and ends (with its seconds and a
// detail line), and its time is kept for the result.

export type Stage = 'sampling' | 'decode' | 'encoders' | 'prefill' | 'generate';

export interface StageEvent {
  stage: Stage;
  state: 'start' | 'end';
  seconds?: number;
  detail?: string;
}

export type StageTimings = Record<Stage | 'total', number> & { tokensPerSecond: number };

export class StageClock {
  readonly timings: StageTimings = {
    sampling: 0,
    decode: 0,
    encoders: 0,
    prefill: 0,
    generate: 0,
    total: 0,
    tokensPerSecond: 0,
  };
  private readonly t0 = performance.now();
  private readonly started = new Map<Stage, number>();

  constructor(private readonly onStage?: (e: StageEvent) => void) {}

  start(stage: Stage): void {
    this.started.set(stage, performance.now());
    this.onStage?.({ stage, state: 'start' });
  }

  /** Ends a stage; `seconds` overrides the time since its start. */
  end(stage: Stage, detail: string, seconds?: number): void {
    const s = seconds ?? (performance.now() - (this.started.get(stage) ?? this.t0)) / 1000;
    this.timings[stage] = s;
    this.onStage?.({ stage, state: 'end', seconds: s, detail });
  }

  async run<T>(stage: Stage, work: () => Promise<T>, detail: (r: T) => string): Promise<T> {
    this.start(stage);
    const r = await work();
    this.end(stage, detail(r));
    return r;
  }

  /** The timings with the total so far. */
  finish(): StageTimings {
    this.timings.total = (performance.now() - this.t0) / 1000;
    return this.timings;
  }
}
