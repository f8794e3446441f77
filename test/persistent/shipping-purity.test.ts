// Cross-region shipping is pure (shipping/README.md): no clocks, ambient randomness, timers or
// process, imports only from data-plane/persistent or shared/ — except zlib-compression.ts, the
// one file that may import node:zlib (deterministic CPU work, no I/O).
import t from 'tap'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkPurity } from '../harness/purity.js'

checkPurity(t, {
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data-plane', 'persistent', 'shipping'),
  minSources: 8,
  allowImport: (file, target) =>
    target.startsWith('./') || /^\.\.\/[a-z-]+(\/[a-z-]+)?\.js$/.test(target) || /^(\.\.\/){3}shared\//.test(target) || (file === 'zlib-compression.ts' && target === 'node:zlib'),
  describe: 'stays inside data-plane/persistent or shared/',
})
