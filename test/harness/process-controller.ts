// Start a node process and break it on purpose: kill -9, SIGSTOP/SIGCONT, restart. Output of
// every run is appended to one log file (with a header per run) and scanned for `waitForLine`.
// Cleanup only ever signals PIDs this module started: each controller its own child, and a
// process-exit hook SIGKILLs any child still running if a test forgot (or crashed before) stop().
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { dirname } from 'node:path'

export interface ProcessSpec {
  readonly name: string
  readonly command: string
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** stdout and stderr of every run are appended here. */
  readonly logFile: string
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Lines kept in memory per run for `waitForLine` (older ones stay in the log file only). */
export const linesKeptMax = 10_000
/** A partial line longer than this is cut into a line of its own. */
const partialLineCharsMax = 64 * 1024

const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

interface LineWaiter {
  readonly pattern: RegExp
  readonly resolve: (line: string) => void
}

export class ProcessController {
  private child: ChildProcess | undefined
  private exitPromise: Promise<ExitInfo> | undefined
  private log: WriteStream | undefined
  private lines: string[] = []
  /** Index (in all lines of this run) of lines[0], to keep cursors valid after trimming. */
  private firstLineNumber = 0
  private readonly partial = { stdout: '', stderr: '' }
  private waiters = new Set<LineWaiter>()
  private runCount = 0
  private pausedFlag = false

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  get paused(): boolean {
    return this.pausedFlag
  }

  /** Resolves once the process is spawned (not once it is ready: use waitForLine for that). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name}: already running (pid ${this.pid})`)
    installExitHook()
    mkdirSync(dirname(this.spec.logFile), { recursive: true })
    this.log ??= createWriteStream(this.spec.logFile, { flags: 'a' })
    this.runCount += 1
    this.lines = []
    this.firstLineNumber = 0
    this.partial.stdout = ''
    this.partial.stderr = ''
    this.pausedFlag = false
    this.log.write(`--- ${this.spec.name} run ${this.runCount} starting ${new Date().toISOString()}: ${this.spec.command} ${(this.spec.args ?? []).join(' ')}\n`)
    const child = spawn(this.spec.command, [...(this.spec.args ?? [])], {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    liveChildren.add(child)
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child)
        this.pausedFlag = false
        this.log?.write(`--- ${this.spec.name} run ${this.runCount} exited: code ${code} signal ${signal}\n`)
        resolve({ code, signal })
      })
    })
    child.stdout?.on('data', (chunk: Buffer) => this.onOutput('stdout', chunk))
    child.stderr?.on('data', (chunk: Buffer) => this.onOutput('stderr', chunk))
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve())
      child.once('error', (error) => {
        liveChildren.delete(child)
        if (this.child === child) this.child = undefined
        reject(new Error(`${this.spec.name}: cannot start ${this.spec.command}: ${error.message}`, { cause: error }))
      })
    })
    this.log.write(`--- ${this.spec.name} run ${this.runCount} pid ${child.pid} spawned\n`)
  }

  /** Resolves when the current run exits. */
  exited(): Promise<ExitInfo> {
    if (this.exitPromise === undefined) throw new Error(`${this.spec.name}: never started`)
    return this.exitPromise
  }

  /** SIGKILL and wait for the exit. No-op when not running. */
  async kill9(): Promise<ExitInfo | undefined> {
    return this.signalAndWait('SIGKILL')
  }

  /** SIGSTOP: the process keeps its sockets but runs nothing (a long GC pause, a frozen VM). */
  pause(): void {
    this.requireRunning('pause').kill('SIGSTOP')
    this.pausedFlag = true
  }

  /** SIGCONT. */
  resume(): void {
    this.requireRunning('resume').kill('SIGCONT')
    this.pausedFlag = false
  }

  /** SIGTERM (resuming a paused process so it can act on it), SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<ExitInfo | undefined> {
    const child = this.child
    if (child === undefined || !this.running) return undefined
    child.kill('SIGTERM')
    if (this.pausedFlag) this.resume()
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      return await this.exited()
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stop (or kill -9 with `{ kill: true }`) and start again with the same spec. */
  async restart(options: { readonly kill?: boolean } = {}): Promise<void> {
    if (options.kill === true) await this.kill9()
    else await this.stop()
    await this.start()
  }

  /**
   * The first line of the current run (stdout or stderr) matching `pattern`: lines already
   * printed count, unless `afterLine` (a value from `lineCount()`) says where to start.
   */
  waitForLine(pattern: RegExp, timeoutMs: number, afterLine = 0): Promise<string> {
    for (let i = Math.max(afterLine, this.firstLineNumber); i < this.firstLineNumber + this.lines.length; i += 1) {
      const line = this.lines[i - this.firstLineNumber]!
      if (pattern.test(line)) return Promise.resolve(line)
    }
    return new Promise<string>((resolve, reject) => {
      const waiter: LineWaiter = {
        pattern,
        resolve: (line) => {
          clearTimeout(timer)
          resolve(line)
        },
      }
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const tail = this.lines.slice(-5).join('\n  ')
        reject(new Error(`${this.spec.name}: no line matching ${pattern} within ${timeoutMs}ms; last lines:\n  ${tail}`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  /** Lines seen in the current run so far (a cursor for `waitForLine`). */
  lineCount(): number {
    return this.firstLineNumber + this.lines.length
  }

  /** Kill the child if it still runs and close the log. For test teardown. */
  async cleanup(): Promise<void> {
    if (this.running) await this.stop(1_000)
    const log = this.log
    this.log = undefined
    if (log !== undefined) await new Promise<void>((resolve) => log.end(() => resolve()))
  }

  private requireRunning(what: string): ChildProcess {
    if (this.child === undefined || !this.running) throw new Error(`${this.spec.name}: cannot ${what}: not running`)
    return this.child
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<ExitInfo | undefined> {
    if (this.child === undefined || !this.running) return undefined
    this.child.kill(signal)
    return this.exited()
  }

  private onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this.log?.write(chunk)
    const text = this.partial[stream] + chunk.toString('utf8')
    const parts = text.split('\n')
    let rest = parts.pop() ?? ''
    if (rest.length > partialLineCharsMax) {
      parts.push(rest)
      rest = ''
    }
    this.partial[stream] = rest
    for (const line of parts) this.addLine(line.endsWith('\r') ? line.slice(0, -1) : line)
  }

  private addLine(line: string): void {
    this.lines.push(line)
    if (this.lines.length > linesKeptMax) {
      this.lines.shift()
      this.firstLineNumber += 1
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.pattern.test(line)) {
        this.waiters.delete(waiter)
        waiter.resolve(line)
      }
    }
  }
}

/** Creates and starts a controller whose cleanup runs in the test's teardown. */
export async function startProcess(teardown: (fn: () => Promise<void>) => void, spec: ProcessSpec): Promise<ProcessController> {
  const controller = new ProcessController(spec)
  teardown(() => controller.cleanup())
  await controller.start()
  return controller
}
