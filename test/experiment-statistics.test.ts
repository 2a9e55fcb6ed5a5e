import { describe, expect, it } from 'vitest';
import { type Arm, compare, fixedHorizonSignificant, logGamma, normalCdf, rateInterval } from '../src/analytics/sequential.ts';

/** A seeded generator (mulberry32): the same experiments every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  /** Outcomes seen when the sequential test first said significant, or null. */
  sequential: number | null;
  fixedHorizon: boolean;
  /** Every interval of the control's rate held its true rate. */
  covered: boolean;
}

/**
 * One experiment: outcomes alternate between control and variant, looked at every `every`
 * outcomes as a live dashboard would, `looks` times.
 */
function experiment(next: () => number, control: number, variant: number, looks: number, coverage = true, every = 100): Run {
  const a: Arm = { successes: 0, trials: 0 };
  const b: Arm = { successes: 0, trials: 0 };
  const run: Run = { sequential: null, fixedHorizon: false, covered: true };
  for (let look = 1; look <= looks; look++) {
    for (let i = 0; i < every / 2; i++) {
      a.trials++;
      if (next() < control) a.successes++;
      b.trials++;
      if (next() < variant) b.successes++;
    }
    if (run.sequential === null && compare(a, b).significant) run.sequential = look * every;
    run.fixedHorizon ||= fixedHorizonSignificant(a, b);
    if (!coverage) continue;
    const [low, high] = rateInterval(a);
    run.covered &&= low <= control && control <= high;
  }
  return run;
}

describe('always-valid experiment statistics', () => {
  it('gets the building blocks right', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(rateInterval({ successes: 0, trials: 0 })).toEqual([0, 1]);
    const [low, high] = rateInterval({ successes: 100, trials: 1000 });
    expect(low).toBeLessThan(0.1);
    expect(high).toBeGreaterThan(0.1);
    // Wider than a fixed-horizon 95% interval (±0.0186): that is the price of looking at any time.
    expect(high - low).toBeGreaterThan(2 * 0.0186);
    expect(high - low).toBeLessThan(0.1);
    expect(rateInterval({ successes: 0, trials: 50 })[0]).toBe(0);
    expect(rateInterval({ successes: 50, trials: 50 })[1]).toBe(1);
  });

  it('1,000 A/A experiments looked at every 100 outcomes: the sequential test errs at most 5% of the time, the fixed-horizon test far more', () => {
    const next = random(2026);
    const runs = Array.from({ length: 1000 }, () => experiment(next, 0.1, 0.1, 200));
    const sequential = runs.filter((run) => run.sequential !== null).length / runs.length;
    const fixedHorizon = runs.filter((run) => run.fixedHorizon).length / runs.length;
    const coverage = runs.filter((run) => run.covered).length / runs.length;
    console.log(`A/A, 1,000 experiments × 200 looks: sequential false positives ${(sequential * 100).toFixed(1)}%, fixed-horizon z-test at every look ${(fixedHorizon * 100).toFixed(1)}%, rate intervals covering at every look ${(coverage * 100).toFixed(1)}%`);
    expect(sequential).toBeLessThanOrEqual(0.05);
    expect(fixedHorizon).toBeGreaterThan(0.15);
    expect(coverage).toBeGreaterThanOrEqual(0.95);
  });

  it('a real 20% relative lift is found, and how soon', () => {
    const next = random(7);
    const runs = Array.from({ length: 1000 }, () => experiment(next, 0.1, 0.12, 400, false));
    const found = runs.map((run) => run.sequential).filter((at): at is number => at !== null).sort((x, y) => x - y);
    const power = found.length / runs.length;
    const median = found[Math.floor(found.length / 2)];
    console.log(`10% -> 12% (20% lift), up to 40,000 outcomes: power ${(power * 100).toFixed(1)}%, median outcomes to detect ${median}`);
    expect(power).toBeGreaterThan(0.8);
    // The comparison's lift interval holds the truth when it says significant.
    const result = compare({ successes: 1000, trials: 10_000 }, { successes: 1200, trials: 10_000 });
    expect(result.significant).toBe(true);
    expect(result.lift).toBeCloseTo(0.2, 10);
    expect(result.interval![0]).toBeGreaterThan(0);
    expect(result.interval![0]).toBeLessThan(0.2);
    expect(result.interval![1]).toBeGreaterThan(0.2);
    expect(result.probabilityToBeatControl).toBeGreaterThan(0.99);
  });

  it('stays valid at rare and common rates (500 A/A experiments each)', () => {
    const next = random(11);
    for (const rate of [0.01, 0.02, 0.5]) {
      const runs = Array.from({ length: 500 }, () => experiment(next, rate, rate, 200, false));
      const falsePositives = runs.filter((run) => run.sequential !== null).length / runs.length;
      console.log(`A/A at ${rate * 100}%: sequential false positives ${(falsePositives * 100).toFixed(1)}%`);
      expect(falsePositives).toBeLessThanOrEqual(0.05);
    }
    // A variant nobody converted on is still compared: none of 120 against half of 120 is no accident.
    expect(compare({ successes: 60, trials: 120 }, { successes: 0, trials: 120 })).toMatchObject({ significant: true, lift: -1 });
  });

  it('stays valid when one arm is small: a 5% or 10% holdout at 1% and 2% rates (1,000 A/A experiments each)', () => {
    const next = random(5);
    // Each outcome goes to the holdout with probability `share`, else to everyone messaged; looked at every 200 outcomes.
    const unbalanced = (share: number, rate: number): boolean => {
      const holdout: Arm = { successes: 0, trials: 0 };
      const messaged: Arm = { successes: 0, trials: 0 };
      for (let look = 1; look <= 200; look++) {
        for (let i = 0; i < 200; i++) {
          const arm = next() < share ? holdout : messaged;
          arm.trials++;
          if (next() < rate) arm.successes++;
        }
        if (compare(holdout, messaged).significant) return true;
      }
      return false;
    };
    for (const share of [0.05, 0.1]) {
      for (const rate of [0.01, 0.02]) {
        const falsePositives = Array.from({ length: 1000 }, () => unbalanced(share, rate)).filter(Boolean).length / 1000;
        console.log(`A/A, ${share * 100}% holdout at ${rate * 100}%: sequential false positives ${(falsePositives * 100).toFixed(1)}%`);
        expect(falsePositives).toBeLessThanOrEqual(0.05);
      }
    }
  });

  it('says nothing from too little data', () => {
    const result = compare({ successes: 2, trials: 20 }, { successes: 9, trials: 20 });
    expect(result).toMatchObject({ significant: false, interval: null });
    expect(result.lift).toBeCloseTo(3.5, 10);
    expect(compare({ successes: 0, trials: 0 }, { successes: 0, trials: 0 })).toEqual({ lift: null, interval: null, significant: false, probabilityToBeatControl: null });
  });
});
