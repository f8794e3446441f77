// Parser micro-benchmark: small ops (PUB with 16-byte payloads, MSG, PING) through the parser in
// 64 KiB chunks, as a socket would deliver them. Prints ops/s and MB/s; never fails on timing.
// Rates are per second of this process's CPU time (user + system), so a busy shared machine
// (other processes competing for cores) distorts them less than wall-clock time would; the
// wall-clock rate is printed beside it. Each scenario runs in its own process (a real
// connection's parser sees one role's traffic; sharing one JIT across scenarios would make
// later ones pay for earlier ones' shapes).
// Run: npx tsx bench/parser.ts
import { spawnSync } from 'node:child_process'
import { createParser } from '../shared/protocol/parser.js'
import type { ParserRole } from '../shared/protocol/types.js'

const chunkBytes = 64 * 1024
const opsPerRun = 2_000_000
const encoder = new TextEncoder()

function stream(frame: string, count: number): Uint8Array[] {
  const whole = encoder.encode(frame.repeat(count))
  const chunks: Uint8Array[] = []
  for (let i = 0; i < whole.length; i += chunkBytes) chunks.push(whole.subarray(i, i + chunkBytes))
  return chunks
}

function run(name: string, role: ParserRole, frame: string, opsPerFrame = 1): void {
  const chunks = stream(frame, opsPerRun / opsPerFrame)
  const totalBytes = chunks.reduce((n, c) => n + c.length, 0)
  let best = 0
  let bestWall = 0
  for (let round = 0; round < 5; round++) {
    const parser = createParser({ role })
    let ops = 0
    const cpuBefore = process.cpuUsage()
    const started = process.hrtime.bigint()
    for (const chunk of chunks) {
      const result = parser.push(chunk)
      if (result.error !== undefined) throw new Error(result.error.detail)
      ops += result.ops.length
    }
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = process.cpuUsage(cpuBefore)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    if (ops !== opsPerRun) throw new Error(`parsed ${ops} ops, expected ${opsPerRun}`)
    best = Math.max(best, ops / cpuSeconds)
    bestWall = Math.max(bestWall, ops / wallSeconds)
  }
  const mbPerSecond = (best * (totalBytes / opsPerRun)) / 1e6
  console.log(
    `${name.padEnd(36)} ${(best / 1e6).toFixed(2)} M ops/s CPU  ${mbPerSecond.toFixed(0)} MB/s  ` +
      `(wall ${(bestWall / 1e6).toFixed(2)} M ops/s; best of 5)`,
  )
}

const mixed =
  'PUB foo.bar 16\r\n0123456789abcdef\r\n' +
  'PUB orders.eu.created _INBOX.abc123 16\r\n0123456789abcdef\r\n' +
  'SUB orders.*.created q 7\r\nPING\r\nUNSUB 7\r\n'

const scenarios: ReadonlyArray<readonly [string, ParserRole, string, number]> = [
  ['mixed PUB/PUB+reply/SUB/PING/UNSUB', 'server', mixed, 5],
  ['PUB foo.bar 16-byte payload', 'server', 'PUB foo.bar 16\r\n0123456789abcdef\r\n', 1],
  ['PUB with reply, 16-byte payload', 'server', 'PUB orders.eu.created _INBOX.abc123 16\r\n0123456789abcdef\r\n', 1],
  ['MSG 16-byte payload (client)', 'client', 'MSG foo.bar 42 16\r\n0123456789abcdef\r\n', 1],
  ['PING', 'server', 'PING\r\n', 1],
  ['HPUB 1 header, 16-byte payload', 'server', 'HPUB foo 19 35\r\nNATS/1.0\r\nA: bc\r\n\r\n0123456789abcdef\r\n', 1],
]

const only = process.argv[2]
if (only !== undefined) {
  const scenario = scenarios[Number(only)]
  if (scenario === undefined) throw new Error(`no scenario ${only}`)
  run(...scenario)
} else {
  console.log(`parser micro-bench: ${opsPerRun} ops per run, ${chunkBytes}-byte chunks, node ${process.version}`)
  for (let i = 0; i < scenarios.length; i++) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, String(i)], { stdio: 'inherit' })
    if (child.status !== 0) process.exitCode = 1
  }
}
