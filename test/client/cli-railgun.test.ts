// CLI verbs (pub, sub, req, reply) against the Railgun server; the suite is in helpers/cli-suite.ts.
import t from 'tap'
import { cliSuite } from './helpers/cli-suite.js'
import { railgunKind } from './helpers/processes.js'

cliSuite(t, railgunKind)
