// Per-account request rates, as ECR's service quotas set them: a token bucket per account and action,
// refilled continuously at the action's rate, holding at most one second of requests (at least one). Pure: the
// clock is given. Each process keeps its own buckets (see the README: N processes allow N times the
// rate).

/** ECR's default rate quotas (requests per second, per account and region), from its service quotas page. */
export const ECR_DEFAULT_RATES: Readonly<Record<string, number>> = {
  BatchCheckLayerAvailability: 1000,
  BatchGetImage: 2000,
  CompleteLayerUpload: 100,
  GetAuthorizationToken: 500,
  GetDownloadUrlForLayer: 3000,
  InitiateLayerUpload: 100,
  PutImage: 10,
  UploadLayerPart: 500,
};

/** `PutImage=20,BatchGetImage=500` over the defaults; throws naming the bad entry. */
export function parseRates(spec: string | undefined, defaults: Readonly<Record<string, number>> = ECR_DEFAULT_RATES): Record<string, number> {
  const out: Record<string, number> = { ...defaults };
  if (spec === undefined || spec.trim() === '') return out;
  for (const entry of spec.split(',')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(entry);
    if (m === null || m[1] === undefined || m[2] === undefined) throw new Error(`throttle rate "${entry.trim()}" is not Action=requestsPerSecond`);
    if (!Object.hasOwn(defaults, m[1])) throw new Error(`throttle rate for ${m[1]}: only ${Object.keys(defaults).join(', ')} have rates`);
    const rate = Number(m[2]);
    if (rate <= 0) throw new Error(`throttle rate for ${m[1]} must be above 0`);
    out[m[1]] = rate;
  }
  return out;
}

export type ThrottleResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export class RateLimiter {
  private readonly rates: Readonly<Record<string, number>>;
  private readonly now: () => number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(rates: Readonly<Record<string, number>>, now: () => number = Date.now) {
    this.rates = rates;
    this.now = now;
  }

  /** Takes one request of `action` (its name without `ecr:`) for the account; actions without a rate pass. */
  take(accountId: string, action: string): ThrottleResult {
    const rate = Object.hasOwn(this.rates, action) ? this.rates[action] : undefined;
    if (rate === undefined) return { ok: true };
    const key = `${accountId}\n${action}`;
    const t = this.now();
    // At most one second of requests, and never less than one request.
    const capacity = Math.max(1, rate);
    const b = this.buckets.get(key) ?? { tokens: capacity, at: t };
    b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      if (this.buckets.size > 100_000) this.prune(t);
      return { ok: true };
    }
    this.buckets.set(key, b);
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
  }

  /** Forgets buckets that are full again (idle a second or more): they hold nothing to remember. */
  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (t - b.at >= 1000) this.buckets.delete(k);
  }
}
