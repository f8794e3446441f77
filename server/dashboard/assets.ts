// The dashboard's static files: our own page (static/) and the browser builds of preact, htm and
// uPlot straight from node_modules, served as they are (no bundler, no CDN). Only the files listed
// here are served: a request names a route, never a path on disk. Each file is read once and kept.
// `hooks.mjs` imports the bare specifier "preact"; it is rewritten to the served file's URL, so the
// page needs no import map (and no inline script: the CSP allows scripts from 'self' only).
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StaticAsset {
  readonly contentType: string
  readonly body: Buffer
}

const javascript = 'text/javascript; charset=utf-8'
const css = 'text/css; charset=utf-8'
const html = 'text/html; charset=utf-8'

/** URL prefix of every dashboard file but the page itself (served at `/`). */
export const dashboardAssetPrefix = '/dashboard/'

const require = createRequire(import.meta.url)

function packageDirectory(name: string): string {
  // htm does not export its package.json; its main file sits in dist/.
  if (name === 'htm') return dirname(dirname(require.resolve('htm')))
  return dirname(require.resolve(`${name}/package.json`))
}

/**
 * Where static/ is: beside this module when run from source (tsx), or in the package's
 * server/dashboard/static when run from the compiled dist/server/dashboard.
 */
function staticDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, 'static'), join(here, '..', '..', '..', 'server', 'dashboard', 'static')]
  return candidates.find((candidate) => existsSync(join(candidate, 'index.html'))) ?? (candidates[0] as string)
}

interface AssetSource {
  readonly file: () => string
  readonly contentType: string
  readonly transform?: (text: string) => string
}

const sources: ReadonlyMap<string, AssetSource> = new Map<string, AssetSource>([
  ['/', { file: () => join(staticDirectory(), 'index.html'), contentType: html }],
  ['/dashboard/app.js', { file: () => join(staticDirectory(), 'app.js'), contentType: javascript }],
  ['/dashboard/charts.js', { file: () => join(staticDirectory(), 'charts.js'), contentType: javascript }],
  ['/dashboard/style.css', { file: () => join(staticDirectory(), 'style.css'), contentType: css }],
  ['/dashboard/vendor/preact.mjs', { file: () => join(packageDirectory('preact'), 'dist', 'preact.mjs'), contentType: javascript }],
  [
    '/dashboard/vendor/hooks.mjs',
    {
      file: () => join(packageDirectory('preact'), 'hooks', 'dist', 'hooks.mjs'),
      contentType: javascript,
      transform: (text) => text.replace(/from\s*(["'])preact\1/g, 'from"./preact.mjs"'),
    },
  ],
  ['/dashboard/vendor/htm.mjs', { file: () => join(packageDirectory('htm'), 'dist', 'htm.mjs'), contentType: javascript }],
  ['/dashboard/vendor/uplot.mjs', { file: () => join(packageDirectory('uplot'), 'dist', 'uPlot.esm.js'), contentType: javascript }],
  ['/dashboard/vendor/uplot.css', { file: () => join(packageDirectory('uplot'), 'dist', 'uPlot.min.css'), contentType: css }],
])

const loaded = new Map<string, StaticAsset>()

/** The asset served at `path`, or undefined when the path is not a dashboard file. Throws if the file is missing. */
export function dashboardAsset(path: string): StaticAsset | undefined {
  const cached = loaded.get(path)
  if (cached !== undefined) return cached
  const source = sources.get(path)
  if (source === undefined) return undefined
  const raw = readFileSync(source.file())
  const body = source.transform === undefined ? raw : Buffer.from(source.transform(raw.toString('utf8')), 'utf8')
  const asset = { contentType: source.contentType, body }
  loaded.set(path, asset)
  return asset
}

/**
 * True for the page and its files: they hold no data (every figure comes from
 * `/api/v1/dashboard…`, which needs credentials), so an access check may let them load without a
 * token — the page then asks for one.
 */
export function isDashboardAssetPath(path: string): boolean {
  return sources.has(path)
}

/** Every path `dashboardAsset` serves (tests fetch them all). */
export function dashboardAssetPaths(): readonly string[] {
  return [...sources.keys()]
}
