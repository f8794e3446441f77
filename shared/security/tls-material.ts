// TLS material held by a running node: certificate, key and CA files loaded into one
// `SecureContext`. `reload()` (the node calls it on SIGHUP) builds a new context from the files
// and swaps it in for *new* handshakes; established connections keep the context they were
// made with. A reload that fails (missing file, bad PEM, key not matching the certificate)
// keeps the old context and says why, so a half-copied certificate never takes a node down.
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import type { SecureContext, SecureContextOptions } from 'node:tls'
import { ConfigError } from '../errors.js'

export interface TlsFiles {
  /** PEM certificate chain presented by this end. */
  readonly certFile: string
  /** PEM private key of that certificate. Its content is never logged. */
  readonly keyFile: string
  /** PEM CA bundle that verifies the other end (client certificates, or peers). Optional for client TLS without client verification. */
  readonly caFile?: string
}

export type TlsReloadResult = { readonly ok: true; readonly loadedAtMs: number } | { readonly ok: false; readonly reason: string }

export interface TlsMaterial {
  /** The context for the next handshake (dialing side, or a hand-made TLSSocket). */
  current(): SecureContext
  /**
   * The same material as context options, for a `tls.Server` (`setSecureContext`). Holds the
   * private key: never log it.
   */
  contextOptions(): SecureContextOptions
  /** Whether a CA was loaded (needed to verify the other end). */
  readonly hasCa: boolean
  /** Re-read the files; on failure the previous context stays in use. */
  reload(): TlsReloadResult
  /** How many contexts were loaded successfully (1 after creation); tests and metrics read it. */
  readonly generation: number
  readonly files: TlsFiles
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    // OpenSSL messages name the failing step ("key values mismatch", "no start line"); fs
    // errors carry the path. Neither carries key material.
    const code = (error as NodeJS.ErrnoException).code
    return code === undefined ? error.message : `${code}: ${error.message}`
  }
  return String(error)
}

interface Built {
  readonly context: SecureContext
  readonly options: SecureContextOptions
}

function build(files: TlsFiles): Built {
  const read = (label: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (error) {
      throw new Error(`${label} ${path}: ${describe(error)}`, { cause: error })
    }
  }
  const cert = read('certFile', files.certFile)
  const key = read('keyFile', files.keyFile)
  const ca = files.caFile === undefined ? undefined : read('caFile', files.caFile)
  const options: SecureContextOptions = { cert, key, ...(ca === undefined ? {} : { ca }), minVersion: 'TLSv1.2' }
  try {
    return { context: createSecureContext(options), options }
  } catch (error) {
    throw new Error(`cannot use ${files.certFile} / ${files.keyFile}${files.caFile === undefined ? '' : ` / ${files.caFile}`}: ${describe(error)}`, { cause: error })
  }
}

/**
 * Loads the files now. A failure at start is a configuration error (`RG_ERR_CONFIG`, naming
 * `source` and the field), so a node never starts with TLS silently off.
 */
export function loadTlsMaterial(files: TlsFiles, source = 'tls', clock: () => number = Date.now): TlsMaterial {
  let built: Built
  try {
    built = build(files)
  } catch (error) {
    throw new ConfigError(source, 'certFile', describe(error), { cause: error })
  }
  let generation = 1
  return {
    files,
    hasCa: files.caFile !== undefined,
    current: () => built.context,
    contextOptions: () => built.options,
    get generation() {
      return generation
    },
    reload: () => {
      try {
        built = build(files)
      } catch (error) {
        return { ok: false, reason: describe(error) }
      }
      generation += 1
      return { ok: true, loadedAtMs: clock() }
    },
  }
}

/**
 * Reload every configured material (the node's SIGHUP handler) and log each outcome: `info` with
 * the new generation, or `error` with the reason while the previous material stays in use.
 */
export function reloadTlsMaterials(
  logger: { info(object: object, message: string): void; error(object: object, message: string): void },
  materials: Readonly<Record<string, TlsMaterial | undefined>>,
): Record<string, TlsReloadResult> {
  const results: Record<string, TlsReloadResult> = {}
  for (const [section, material] of Object.entries(materials)) {
    if (material === undefined) continue
    const result = material.reload()
    results[section] = result
    if (result.ok) logger.info({ section, generation: material.generation, certFile: material.files.certFile }, 'TLS material reloaded: new handshakes use it')
    else logger.error({ section, reason: result.reason }, 'TLS material reload failed: the previous certificate stays in use')
  }
  return results
}
