// Password hashing with scrypt (a memory-hard KDF in Node's crypto). The hash string names its
// parameters, so they can be raised later without breaking stored hashes:
//   scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<key, base64>
// Verification recomputes the key with the stored parameters and compares in constant time.
// Parameters read from a hash are range-checked before use, so a crafted hash cannot make the
// node allocate gigabytes. The plaintext password is never logged, stored or returned.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

export interface ScryptParameters {
  /** log2 of the CPU/memory cost N. */
  readonly logN: number
  /** Block size. Memory used is 128 · N · r bytes (32 MiB at logN 15, r 8). */
  readonly r: number
  /** Parallelisation. */
  readonly p: number
}

/** OWASP's scrypt floor is N=2^17, r=8, p=1 (128 MiB); 2^15 keeps a login near 100 ms on a small node. */
export const defaultScryptParameters: ScryptParameters = { logN: 15, r: 8, p: 1 }

/** Named limits on what a stored hash may ask for (and what may be configured). */
export const passwordLimits = {
  logNMin: 10,
  logNMax: 20,
  rMax: 32,
  pMax: 16,
  saltBytes: 16,
  keyBytes: 32,
  /** Longer passwords are refused before hashing (scrypt's cost does not depend on it, but memory and logs do). */
  passwordBytesMax: 1024,
} as const

const prefix = 'scrypt'
const base64 = /^[A-Za-z0-9+/]+={0,2}$/

export function checkScryptParameters(parameters: ScryptParameters): void {
  const { logN, r, p } = parameters
  if (!Number.isInteger(logN) || logN < passwordLimits.logNMin || logN > passwordLimits.logNMax) {
    throw new RangeError(`scrypt logN must be an integer in [${passwordLimits.logNMin}, ${passwordLimits.logNMax}], got ${logN}`)
  }
  if (!Number.isInteger(r) || r < 1 || r > passwordLimits.rMax) throw new RangeError(`scrypt r must be an integer in [1, ${passwordLimits.rMax}], got ${r}`)
  if (!Number.isInteger(p) || p < 1 || p > passwordLimits.pMax) throw new RangeError(`scrypt p must be an integer in [1, ${passwordLimits.pMax}], got ${p}`)
}

function derive(password: string, salt: Buffer, parameters: ScryptParameters, keyBytes: number): Promise<Buffer> {
  const N = 2 ** parameters.logN
  // Node refuses scrypt beyond `maxmem` (32 MiB by default): allow exactly what the parameters need.
  const maxmem = 128 * N * parameters.r + 1024 * 1024
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, { N, r: parameters.r, p: parameters.p, maxmem }, (error, key) => (error === null ? resolve(key) : reject(error)))
  })
}

/** Hash a password for `ensureUser.passwordHash`. */
export async function hashPassword(password: string, parameters: ScryptParameters = defaultScryptParameters): Promise<string> {
  checkScryptParameters(parameters)
  if (password.length === 0) throw new RangeError('password must not be empty')
  if (Buffer.byteLength(password) > passwordLimits.passwordBytesMax) throw new RangeError(`password longer than ${passwordLimits.passwordBytesMax} bytes`)
  const salt = randomBytes(passwordLimits.saltBytes)
  const key = await derive(password, salt, parameters, passwordLimits.keyBytes)
  return `${prefix}$ln=${parameters.logN},r=${parameters.r},p=${parameters.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

export interface ParsedPasswordHash {
  readonly parameters: ScryptParameters
  readonly salt: Buffer
  readonly key: Buffer
}

/** Parses a hash string; undefined if it is not one this module wrote (or asks for out-of-range parameters). */
export function parsePasswordHash(hash: string): ParsedPasswordHash | undefined {
  const parts = hash.split('$')
  if (parts.length !== 4 || parts[0] !== prefix) return undefined
  const match = /^ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})$/.exec(parts[1] as string)
  if (match === null) return undefined
  const parameters = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) }
  try {
    checkScryptParameters(parameters)
  } catch {
    return undefined
  }
  const saltText = parts[2] as string
  const keyText = parts[3] as string
  if (!base64.test(saltText) || !base64.test(keyText)) return undefined
  const salt = Buffer.from(saltText, 'base64')
  const key = Buffer.from(keyText, 'base64')
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined
  return { parameters, salt, key }
}

/**
 * Whether `password` matches `hash`. A malformed hash or an over-long password is `false`, never
 * an exception. The comparison is constant-time in the key bytes.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parsePasswordHash(hash)
  if (parsed === undefined) return false
  if (password.length === 0 || Buffer.byteLength(password) > passwordLimits.passwordBytesMax) return false
  const key = await derive(password, parsed.salt, parsed.parameters, parsed.key.length)
  return timingSafeEqual(key, parsed.key)
}
