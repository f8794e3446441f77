// Which subscriptions receive one published message. Pure: no node:* imports, no timers; the
// random source is injected so the simulator can replay choices from a seed.
//
// Rules (NATS core semantics, which ES streams follow):
// - every plain subscription in the match receives the message once. Two overlapping plain
//   subscriptions of one connection (say `orders.*` and `orders.eu`) are two entities and each
//   gets its own copy, exactly as nats-server delivers one MSG per matching sid;
// - every queue group (one queue name, whatever patterns its members used) receives it once:
//   one member, picked uniformly at random among the eligible members. Random rather than
//   round-robin because it needs no per-group state, spreads load evenly in expectation (as
//   nats-server does) and stays correct while members join and leave;
// - `exclude` removes subscriptions before anything is chosen: `echo: false` (the publishing
//   connection's own subscriptions) and unhealthy members. A group whose members are all
//   excluded is skipped; a plain subscription that is excluded gets nothing.
import type { SubscriptionMatch } from './subscription-index.js'

/** Returns a number in [0, 1), like Math.random; inject a seeded one in tests and simulation. */
export type RandomSource = () => number

export interface FanoutOptions<S> {
  readonly random: RandomSource
  /** True for a subscription that must not receive this message. */
  readonly exclude?: (sub: S) => boolean
}

/** An index in [0, count) from `random`, robust to a source that returns exactly 1 or junk. */
export function pickIndex(random: RandomSource, count: number): number {
  const index = Math.floor(random() * count)
  return index >= 0 && index < count ? index : 0
}

/** The subscriptions that receive the message: each plain one once, one member per group. */
export function chooseDeliveries<S>(match: SubscriptionMatch<S>, options: FanoutOptions<S>): S[] {
  const { random, exclude } = options
  const deliveries: S[] = []
  for (const sub of match.plain) if (exclude === undefined || !exclude(sub)) deliveries.push(sub)
  for (const members of match.groups.values()) {
    const chosen = exclude === undefined ? pickFrom(members, random) : pickEligible(members, random, exclude)
    if (chosen !== undefined) deliveries.push(chosen)
  }
  return deliveries
}

function pickFrom<S>(members: readonly S[], random: RandomSource): S | undefined {
  return members.length === 0 ? undefined : members[pickIndex(random, members.length)]
}

function pickEligible<S>(members: readonly S[], random: RandomSource, exclude: (sub: S) => boolean): S | undefined {
  // Common case: try a random member first; only filter when it is excluded.
  const first = pickFrom(members, random)
  if (first === undefined || !exclude(first)) return first
  const eligible = members.filter((sub) => !exclude(sub))
  return pickFrom(eligible, random)
}

/**
 * The `echo: false` hook: excludes subscriptions owned by the publishing connection.
 * `connectionOf` reads a subscription's connection (any identity: object, id, …).
 */
export function excludePublisher<S, C>(connectionOf: (sub: S) => C, publisher: C): (sub: S) => boolean {
  return (sub) => connectionOf(sub) === publisher
}

/** Combines exclusion hooks: a subscription is excluded when any hook excludes it. */
export function excludeAny<S>(...hooks: ReadonlyArray<((sub: S) => boolean) | undefined>): ((sub: S) => boolean) | undefined {
  const present = hooks.filter((hook): hook is (sub: S) => boolean => hook !== undefined)
  if (present.length === 0) return undefined
  if (present.length === 1) return present[0]
  return (sub) => present.some((hook) => hook(sub))
}
