/**
 * Statistics that stay valid while they are watched. A dashboard shows an experiment live and
 * people look again and again; a fixed-horizon test checked at every look declares a difference
 * that is not there far more often than its 5% (about 30% at a hundred looks). Everything here is
 * "always valid" (Johari, Pekelis & Walsh, "Always Valid Inference", 2017; Howard, Ramdas,
 * McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", 2021):
 * the chance that an interval ever misses the truth, or that `significant` is ever true for a
 * difference that does not exist, at any of any number of looks, is at most `alpha`.
 *
 * - A rate's interval is a confidence sequence from a beta-binomial mixture martingale: the rates
 *   p whose mixture likelihood ratio against p stays below 1/alpha (Ville's inequality).
 * - A comparison is a mixture sequential probability ratio test (mSPRT) on the difference of two
 *   rates, with a normal mixing distribution of spread `tau`, and its confidence sequence.
 */

/** Successes out of trials: clicks of messages sent, conversions of contacts held out… */
export interface Arm {
  successes: number;
  trials: number;
}

export interface Comparison {
  /** The variant's rate over the control's, minus 1 (0.2 = 20% better); null until both have trials. */
  lift: number | null;
  /** An interval for `lift` from the difference's always-valid interval; null until there is enough data. */
  interval: [number, number] | null;
  /** The interval excludes 0: the variant differs from the control. */
  significant: boolean;
  /** Posterior probability (uniform priors) that the variant's true rate is above the control's. */
  probabilityToBeatControl: number | null;
}

export const DEFAULT_ALPHA = 0.05;
/**
 * The mixing spread, in standard deviations of one outcome: the mSPRT is most powerful for true
 * effects of about this size and valid for every effect size.
 */
export const DEFAULT_TAU = 0.2;
/** Below this an arm is too small for the normal approximation the mSPRT rests on. */
export const MIN_TRIALS = 100;

/** An always-valid interval for one rate (beta-binomial mixture with a uniform prior). */
export function rateInterval({ successes, trials }: Arm, alpha = DEFAULT_ALPHA): [number, number] {
  if (trials <= 0) return [0, 1];
  const failures = trials - successes;
  // log of the mixture martingale against the rate p; the interval is where it stays below log(1/alpha).
  const mixture = logBeta(1 + successes, 1 + failures);
  const threshold = Math.log(1 / alpha);
  const logRatio = (p: number) => mixture - successes * Math.log(p) - failures * Math.log1p(-p);
  // Start the search just inside (0, 1): the log of the rate is -Infinity at the ends.
  const estimate = Math.min(Math.max(successes / trials, 1e-12), 1 - 1e-12);
  const bound = (inside: number, outside: number) => {
    // logRatio is convex in p with its minimum near the estimate: bisect between a point inside and one outside.
    if (logRatio(outside) < threshold) return outside;
    for (let i = 0; i < 60; i++) {
      const middle = (inside + outside) / 2;
      if (logRatio(middle) < threshold) inside = middle;
      else outside = middle;
    }
    return inside;
  };
  const low = successes === 0 ? 0 : bound(estimate, 1e-15);
  const high = failures === 0 ? 1 : bound(estimate, 1 - 1e-15);
  return [low, high];
}

/**
 * The variant against the control: an mSPRT on the difference of the two rates (as Johari et al.
 * test conversion rates), variances from Laplace-smoothed rates so an arm with no successes yet
 * is not taken for certain. `alpha` is the error allowed for this one comparison: divide it by the
 * number of comparisons made at once (Bonferroni) to keep the whole experiment's error at alpha.
 */
export function compare(control: Arm, variant: Arm, alpha = DEFAULT_ALPHA, tau = DEFAULT_TAU): Comparison {
  const rate = (arm: Arm) => arm.successes / arm.trials;
  const lift = control.trials > 0 && variant.trials > 0 && control.successes > 0 ? rate(variant) / rate(control) - 1 : null;
  const probabilityToBeatControl = control.trials > 0 && variant.trials > 0 ? probabilityAbove(variant, control) : null;
  if (control.trials < MIN_TRIALS || variant.trials < MIN_TRIALS) return { lift, interval: null, significant: false, probabilityToBeatControl };

  const smoothed = (arm: Arm) => (arm.successes + 1) / (arm.trials + 2);
  const spread = (p: number) => p * (1 - p);
  const estimate = rate(variant) - rate(control);
  const pooled = spread(smoothed({ successes: control.successes + variant.successes, trials: control.trials + variant.trials }));
  // The larger of the per-arm and the pooled variance: a small arm (a 5% holdout) with few or no
  // successes by chance would have its own variance, and so the interval, far too narrow; under
  // no difference the pooled one is the right one.
  const variance = Math.max(spread(smoothed(variant)) / variant.trials + spread(smoothed(control)) / control.trials, pooled / variant.trials + pooled / control.trials);
  // The mixture's spread in the metric's own scale: tau standard deviations of one outcome.
  const t2 = tau * tau * pooled;
  // mSPRT with a N(0, t2) mixture: the differences whose likelihood ratio stays below 1/alpha.
  const halfWidth = Math.sqrt(((variance * (variance + t2)) / t2) * (2 * Math.log(1 / alpha) + Math.log((variance + t2) / variance)));
  const significant = estimate - halfWidth > 0 || estimate + halfWidth < 0;
  // The lift's interval is the difference's over the control's rate (an approximation: the
  // control's rate is itself estimated); `significant` rests on the difference alone.
  const base = rate(control);
  const interval: [number, number] | null = base > 0 ? [(estimate - halfWidth) / base, (estimate + halfWidth) / base] : null;
  return { lift, interval, significant, probabilityToBeatControl };
}

/**
 * The classical fixed-horizon two-proportion z-test, for contrast only: valid when looked at once,
 * at a sample size chosen in advance; never used for a live result.
 */
export function fixedHorizonSignificant(control: Arm, variant: Arm, alpha = DEFAULT_ALPHA): boolean {
  if (control.trials === 0 || variant.trials === 0) return false;
  const pooled = (control.successes + variant.successes) / (control.trials + variant.trials);
  const error = Math.sqrt(pooled * (1 - pooled) * (1 / control.trials + 1 / variant.trials));
  if (error === 0) return false;
  const z = Math.abs(variant.successes / variant.trials - control.successes / control.trials) / error;
  return z > normalQuantile(1 - alpha / 2);
}

/** P(variant's rate > control's) under Beta(1 + successes, 1 + failures) posteriors, normal approximation. */
function probabilityAbove(variant: Arm, control: Arm): number {
  const moments = ({ successes, trials }: Arm) => {
    const a = 1 + successes;
    const b = 1 + trials - successes;
    return { mean: a / (a + b), variance: (a * b) / ((a + b) ** 2 * (a + b + 1)) };
  };
  const v = moments(variant);
  const c = moments(control);
  return normalCdf((v.mean - c.mean) / Math.sqrt(v.variance + c.variance));
}

/** log B(a, b) through log Γ. */
function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  x -= 1;
  let sum = c[0]!;
  for (let i = 1; i < g + 2; i++) sum += c[i]! / (x + i);
  const t = x + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The standard normal distribution function (Abramowitz & Stegun 7.1.26 on erf; error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The standard normal quantile, by bisection on normalCdf (used only for the contrast test). */
function normalQuantile(p: number): number {
  let low = -10;
  let high = 10;
  for (let i = 0; i < 100; i++) {
    const middle = (low + high) / 2;
    if (normalCdf(middle) < p) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}
