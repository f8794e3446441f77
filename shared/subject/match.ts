// Does a subscribe pattern match a concrete subject? Pure: no node:* imports.
// `*` = exactly one token, `>` = one or more trailing tokens, `#` = zero or more tokens anywhere.
// Both arguments are assumed valid (see validate.ts); matching is token by token, exact and
// case-sensitive.
import { wildcardOneToken, wildcardTail, wildcardZeroOrMore } from './validate.js'

/** True when `subject` (no wildcards) is matched by `pattern` (may hold wildcards). */
export function matchSubject(pattern: string, subject: string): boolean {
  if (pattern === subject) return true
  return matchTokens(pattern.split('.'), subject.split('.'))
}

/** Token-level match; `#` makes it a small dynamic program, otherwise it is one linear pass. */
export function matchTokens(pattern: readonly string[], subject: readonly string[]): boolean {
  if (!pattern.includes(wildcardZeroOrMore)) return matchLinear(pattern, subject)
  // reachable[j]: the pattern prefix read so far can consume exactly subject[0..j).
  let reachable = new Array<boolean>(subject.length + 1).fill(false)
  reachable[0] = true
  for (const token of pattern) {
    const next = new Array<boolean>(subject.length + 1).fill(false)
    if (token === wildcardZeroOrMore) {
      let any = false
      for (let j = 0; j <= subject.length; j++) {
        any = any || (reachable[j] as boolean)
        next[j] = any
      }
    } else if (token === wildcardTail) {
      // Valid patterns have `>` last: from any reachable j < n it consumes the rest.
      for (let j = 0; j < subject.length; j++) {
        if (reachable[j]) {
          next[subject.length] = true
          break
        }
      }
    } else {
      for (let j = 0; j < subject.length; j++) {
        if (reachable[j] && (token === wildcardOneToken || token === subject[j])) next[j + 1] = true
      }
    }
    reachable = next
  }
  return reachable[subject.length] as boolean
}

function matchLinear(pattern: readonly string[], subject: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i] as string
    if (token === wildcardTail) return subject.length > i
    if (i >= subject.length) return false
    if (token !== wildcardOneToken && token !== subject[i]) return false
  }
  return pattern.length === subject.length
}
