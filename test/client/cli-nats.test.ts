// CLI verbs (pub, sub, req, reply) against nats-server; the suite is in helpers/cli-suite.ts.
import t from 'tap'
import { cliSuite } from './helpers/cli-suite.js'
import { natsServerKind } from './helpers/processes.js'

cliSuite(t, natsServerKind)
