// The Raft core is pure (design §3.1, folder README): no node:* modules, no clocks, no ambient
// randomness, no timers, and imports only from its own folder or shared/.
import t from 'tap'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkPurity } from '../harness/purity.js'

checkPurity(t, {
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'control-plane', 'raft'),
  minSources: 11,
  allowImport: (_file, target) => target.startsWith('./') || /^(\.\.\/)+shared\//.test(target),
  describe: 'stays inside the core or shared/',
})
