// `--peer-port 0`: the node id may derive from the peer port, and the transport needs the id
// before it listens, so a free port is found first (listen on 0, read it, close) and the
// transport then binds it. Another process could take the port in between; only port 0 (tests,
// ad-hoc runs) pays that small race.
import { createServer } from 'node:net'

export function reservePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no free port on ${host}`))))
    })
  })
}
