// Failed logins per source address, as token buckets: each source holds up to `burst` tokens,
// refilled at `refillPerMinute`; a failed login takes one. A source with an empty bucket is
// refused at once, before any password hashing, so guessing is slow and a flood of bad logins
// cannot keep the CPU busy with scrypt. Successful logins cost nothing. Pure: time comes in.

export interface LoginRateLimits {
  /** Failed logins a source may make in a row. */
  readonly burst: number
  /** Failed-login allowance regained per minute. */
  readonly refillPerMinute: number
  /** Sources tracked at once; beyond it the fullest (least suspicious) buckets are forgotten first. */
  readonly sourcesMax: number
}

export const defaultLoginRateLimits: LoginRateLimits = { burst: 5, refillPerMinute: 10, sourcesMax: 10_000 }

interface Bucket {
  tokens: number
  updatedMs: number
}

export class LoginRateLimiter {
  readonly limits: LoginRateLimits
  readonly #buckets = new Map<string, Bucket>()

  constructor(limits: LoginRateLimits = defaultLoginRateLimits) {
    if (!(limits.burst >= 1 && limits.refillPerMinute > 0 && limits.sourcesMax >= 1)) {
      throw new RangeError('login rate limits need burst ≥ 1, refillPerMinute > 0, sourcesMax ≥ 1')
    }
    this.limits = limits
  }

  #level(bucket: Bucket, nowMs: number): number {
    const elapsedMs = Math.max(0, nowMs - bucket.updatedMs)
    return Math.min(this.limits.burst, bucket.tokens + (elapsedMs * this.limits.refillPerMinute) / 60_000)
  }

  /** Whether `source` may try to log in now. */
  allowed(source: string, nowMs: number): boolean {
    const bucket = this.#buckets.get(source)
    return bucket === undefined || this.#level(bucket, nowMs) >= 1
  }

  /** Record a failed login of `source`. */
  failed(source: string, nowMs: number): void {
    const bucket = this.#buckets.get(source)
    if (bucket !== undefined) {
      bucket.tokens = Math.max(0, this.#level(bucket, nowMs) - 1)
      bucket.updatedMs = nowMs
      return
    }
    if (this.#buckets.size >= this.limits.sourcesMax) this.#evict(nowMs)
    this.#buckets.set(source, { tokens: this.limits.burst - 1, updatedMs: nowMs })
  }

  /** Sources currently tracked (bounded by sourcesMax). */
  get trackedSources(): number {
    return this.#buckets.size
  }

  /** Drop buckets that refilled completely; if none did, the fullest one. */
  #evict(nowMs: number): void {
    let fullest: string | undefined
    let fullestLevel = -1
    for (const [source, bucket] of this.#buckets) {
      const level = this.#level(bucket, nowMs)
      if (level >= this.limits.burst) this.#buckets.delete(source)
      else if (level > fullestLevel) {
        fullest = source
        fullestLevel = level
      }
    }
    if (this.#buckets.size >= this.limits.sourcesMax && fullest !== undefined) this.#buckets.delete(fullest)
  }
}
