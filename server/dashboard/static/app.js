/* global document, window, fetch, sessionStorage, TextDecoder, setTimeout, clearTimeout, AbortController */
// The Railgun dashboard page: preact + htm, no build step. It reads this node's snapshot stream
// (GET /api/v1/dashboard/stream, newline-delimited JSON) with fetch, so it can send
// `Authorization: Bearer <token>` on every request (EventSource cannot). A 401/403 shows the
// token form; the token is kept in sessionStorage (this tab only) and never displayed.
import { h, render } from './vendor/preact.mjs'
import { useEffect, useMemo, useState } from './vendor/hooks.mjs'
import htm from './vendor/htm.mjs'
import { Chart, History, chartStreamsMax } from './charts.js'

const html = htm.bind(h)
const tokenKey = 'railgun.dashboard.token'
const streamPath = '/api/v1/dashboard/stream?intervalMs=1000'
const reconnectDelayMs = 2000

function authHeaders() {
  const token = sessionStorage.getItem(tokenKey)
  return token ? { authorization: `Bearer ${token}` } : {}
}

const rate = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
const dash = (value) => (value === null || value === undefined ? '—' : String(value))
const ago = (ms) => (ms === null || ms === undefined ? '—' : ms < 1000 ? 'now' : `${Math.round(ms / 1000)} s ago`)
const bytes = (value) => {
  if (value === null || value === undefined) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let scaled = value
  let unit = 0
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024
    unit += 1
  }
  return `${unit === 0 ? Math.round(scaled) : scaled.toFixed(1)} ${units[unit]}`
}

/** Reads the NDJSON stream; calls onSnapshot per line; resolves when it ends, rejects on HTTP errors. */
async function followStream(signal, onSnapshot, onStatus) {
  const response = await fetch(streamPath, { headers: authHeaders(), signal, cache: 'no-store' })
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}))
    const error = new Error(body?.error?.message ?? `HTTP ${response.status}`)
    error.auth = true
    throw error
  }
  if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`)
  onStatus('connected')
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffered += decoder.decode(value, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.trim() !== '') onSnapshot(JSON.parse(line))
      newline = buffered.indexOf('\n')
    }
  }
}

function Login({ message, onToken }) {
  const [value, setValue] = useState('')
  const submit = (event) => {
    event.preventDefault()
    onToken(value.trim())
  }
  return html`<form class="login" onSubmit=${submit} data-testid="login">
    <h2>Railgun dashboard: sign in</h2>
    <p class="muted">${message || 'Access control is on: an admin token is needed.'} The token stays in this browser tab.</p>
    <input type="password" autocomplete="off" placeholder="rgt_… token" value=${value} onInput=${(event) => setValue(event.target.value)} />
    <button type="submit">Use token</button>
  </form>`
}

function Badge({ value, kind }) {
  return html`<span class="badge ${kind ?? value}">${value}</span>`
}

function Header({ snapshot, connection, onForget }) {
  const self = snapshot?.self
  const raft = snapshot?.raft
  return html`<header>
    <h1>Railgun</h1>
    <div class="facts">
      <span>node <b data-testid="self-id">${self?.nodeId || self?.name || '…'}</b> (${self?.name ?? ''})</span>
      <span>region <b>${self?.region || '—'}</b></span>
      <span>role <b data-testid="self-role">${raft?.role ?? '—'}</b></span>
      <span>term <b>${raft?.term ?? '—'}</b></span>
      <span>leader <b data-testid="leader">${raft?.leader ?? 'none'}</b></span>
      <span>commit <b>${raft?.commit ?? '—'}</b></span>
      <span>version <b>${self?.version ?? '—'}</b></span>
      <span>live <b data-testid="connection">${connection}</b></span>
    </div>
    ${sessionStorage.getItem(tokenKey) ? html`<button onClick=${onForget}>forget token</button>` : null}
  </header>`
}

function Nodes({ nodes }) {
  return html`<section class="wide"><h2>Cluster nodes (${nodes.length})</h2>
    <table data-testid="nodes">
      <thead><tr><th>node</th><th>region</th><th>zone</th><th>role</th><th>state</th><th>ready</th><th>peer link</th><th>last heartbeat</th><th>client</th><th>admin</th></tr></thead>
      <tbody>${nodes.map(
        (node) => html`<tr key=${node.id} data-node-id=${node.id} data-role=${node.role}>
          <td><b>${node.id}</b>${node.self ? html` <span class="muted">(this node)</span>` : null}</td>
          <td>${node.region}</td><td>${node.zone || '—'}</td>
          <td><${Badge} value=${node.role} kind=${node.role === 'leader' ? 'leader' : ''} /></td>
          <td><${Badge} value=${node.state} /></td>
          <td title=${node.readyReason ?? ''}>${node.ready === null ? html`<span class="muted">unknown</span>` : html`<${Badge} value=${node.ready ? 'ready' : 'not ready'} kind=${node.ready ? 'ok' : 'bad'} />`}</td>
          <td title=${node.linkReason ?? ''}><${Badge} value=${node.link} kind=${node.link === 'self' ? '' : node.link} /></td>
          <td>${ago(node.lastHeartbeatAgoMs)}</td>
          <td class="muted">${node.clientAddress}</td><td class="muted">${node.adminAddress}</td>
        </tr>`,
      )}</tbody>
    </table></section>`
}

function Regions({ regions, designations }) {
  return html`<section><h2>Regions (${regions.length})</h2>
    <table><thead><tr><th>region</th><th class="num">nodes</th><th>declared</th></tr></thead>
      <tbody>${regions.map((region) => html`<tr key=${region.name}><td>${region.name}</td><td class="num">${region.nodes}</td><td>${region.explicit ? 'yes' : 'by a node'}</td></tr>`)}</tbody></table>
    <h2 style="margin-top:1rem">Controller designations (${designations.length})</h2>
    ${designations.length === 0
      ? html`<p class="muted">None yet.</p>`
      : html`<table data-testid="designations"><thead><tr><th>kind</th><th>controller</th><th>holder</th><th class="num">controller term</th><th>region</th></tr></thead>
        <tbody>${designations.map((designation) => html`<tr key=${designation.controller} data-controller=${designation.controller}><td><${Badge} value=${designation.kind} kind="" /></td><td>${designation.controller}</td><td>${designation.holder ?? html`<span class="muted">vacant</span>`}</td><td class="num">${designation.controllerTerm}</td><td>${designation.region ?? 'any'}</td></tr>`)}</tbody></table>`}
  </section>`
}

/** A persistent stream's copy in each region, from one replica there (or why it is missing). */
function RegionCopies({ stream }) {
  return html`${stream.perRegion.map(
    (region, index) => html`${index > 0 ? '; ' : ''}<span title=${region.reason ?? `from ${region.node}${region.ageMs ? `, ${ago(region.ageMs)}` : ''}`} data-region=${region.region}>${region.region}: ${region.status === 'live'
      ? `${region.events} / ${bytes(region.bytes)} (${region.delivered} delivered)`
      : html`<${Badge} value=${region.status} kind=${region.status === 'unreachable' ? 'bad' : 'warn'} />`}</span>`,
  )}`
}

function Lag({ lags }) {
  if (lags.length === 0) return html`<span class="muted">—</span>`
  return html`${lags.map(
    (lag, index) => html`${index > 0 ? '; ' : ''}<span title=${lag.reason ?? `reported by ${lag.node}, ${ago(lag.ageMs)}`}>${lag.source}→${lag.destination}: ${lag.events === null ? '—' : `${lag.events} ev / ${lag.seconds.toFixed(1)} s`}</span>`,
  )}`
}

function Streams({ streams, undeclared }) {
  return html`<section class="wide"><h2>Streams (${streams.length})</h2>
    <table data-testid="streams">
      <thead><tr><th>stream</th><th>kind</th><th>regions</th><th class="num">replicas</th><th>placement</th><th>events / bytes per region</th>
        <th class="num">publish /s</th><th class="num">deliver /s</th><th class="num">published</th><th class="num">delivered</th><th class="num">acked</th><th class="num">dup / failed</th><th class="num">redelivered / DLQ</th><th>replication lag</th></tr></thead>
      <tbody>${streams.map((stream) => {
        const persistent = stream.kind === 'persistent'
        const cluster = stream.cluster
        const missing = cluster && cluster.nodesMissing.length > 0 ? ` (without ${cluster.nodesMissing.join(', ')}: no fresh report)` : ''
        return html`<tr key=${stream.stream} data-stream=${stream.stream}>
          <td><b>${stream.stream}</b></td>
          <td><${Badge} value=${stream.kind} kind="live" /></td>
          <td>${stream.regions.join(', ')}</td>
          <td class="num">${persistent ? stream.replicasPerRegion : '—'}</td>
          <td class="muted">${persistent ? stream.placement.map((place) => `${place.region}: ${place.replicas.length ? place.replicas.join(' ') : 'none'}${place.pending.length ? ` (+${place.pending.length} catching up)` : ''}`).join('; ') : 'every node (ephemeral)'}</td>
          <td class="muted" data-field="stored">${persistent
            ? html`<${RegionCopies} stream=${stream} />${stream.stored ? html`<br />this node: ${stream.stored.events} / ${bytes(stream.stored.bytes)} (${stream.stored.delivered} delivered)` : null}`
            : '—'}</td>
          <td class="num" data-field="publishPerSec" title=${persistent ? `all nodes${missing}` : 'this node'}>${rate(persistent ? cluster.publishPerSec : stream.publishPerSec)}</td>
          <td class="num" data-field="deliverPerSec" title=${persistent ? `consumer-group deliveries, all nodes${missing}` : 'this node'}>${rate(persistent ? cluster.deliverPerSec : stream.deliverPerSec)}</td>
          <td class="num" data-field="published" title=${persistent ? `written by the replicas' engines, all nodes${missing}` : 'this node'}>${persistent ? cluster.written : stream.published}</td>
          <td class="num" data-field="delivered" title=${persistent ? `first deliveries to consumer groups${missing}` : 'this node'}>${persistent ? cluster.groupDelivered : stream.delivered}</td>
          <td class="num" data-field="acked" title=${persistent ? `write ${cluster.acked.write} · majority ${cluster.acked.majority} · all ${cluster.acked.all}${missing}` : ''}>${persistent ? cluster.ackedTotal : '—'}</td>
          <td class="num" data-field="duplicates">${persistent ? `${cluster.duplicates} / ${cluster.failed}` : '—'}</td>
          <td class="num" data-field="redelivered">${persistent ? `${cluster.redelivered} / ${cluster.deadLettered}` : '—'}</td>
          <td class="muted" data-field="lag"><${Lag} lags=${stream.replicationLag} /></td>
        </tr>`
      })}</tbody>
    </table>
    ${undeclared.length === 0
      ? null
      : html`<h2 style="margin-top:1rem">Traffic on subjects without a stream definition</h2>
        <table><thead><tr><th>subject stream (first token)</th><th class="num">publish /s</th><th class="num">deliver /s</th><th class="num">published</th><th class="num">delivered</th></tr></thead>
        <tbody>${undeclared.map((traffic) => html`<tr key=${traffic.stream}><td>${traffic.stream}</td><td class="num">${rate(traffic.publishPerSec)}</td><td class="num">${rate(traffic.deliverPerSec)}</td><td class="num">${traffic.published}</td><td class="num">${traffic.delivered}</td></tr>`)}</tbody></table>`}
  </section>`
}

function Groups({ groups }) {
  const rows = groups.flatMap((group) => group.regions.map((region) => ({ group, region })))
  return html`<section class="wide"><h2>Consumer groups (${groups.length})</h2>
    ${groups.length === 0
      ? html`<p class="muted">No consumer groups.</p>`
      : html`<table data-testid="groups"><thead><tr><th>group</th><th>region</th><th>controller (term)</th><th>mode</th><th class="num">max in flight</th><th class="num">ack wait</th><th>start</th>
          <th class="num">head</th><th class="num">outstanding</th><th class="num">lag</th><th class="num">members</th><th class="num">acked</th><th class="num">redeliveries</th><th class="num">dead-lettered</th><th>as of</th></tr></thead>
        <tbody>${rows.map(({ group, region }) => html`<tr key=${`${group.group} ${region.region}`} data-group=${group.group} data-region=${region.region} data-status=${region.status}>
          <td><b>${group.group}</b></td><td>${region.region}</td>
          <td>${region.controller ?? html`<span class="muted">vacant</span>`}${region.controllerTerm === null ? '' : ` (${region.controllerTerm})`}</td>
          <td>${group.mode}</td><td class="num">${group.maxInFlight}</td><td class="num">${group.ackWaitMs} ms</td><td>${group.start}</td>
          <td class="num" data-field="head">${dash(region.head)}</td><td class="num" data-field="outstanding">${dash(region.outstanding)}</td><td class="num" data-field="lag">${dash(region.lag)}</td>
          <td class="num" data-field="members">${dash(region.members)}</td><td class="num" data-field="acked">${dash(region.acked)}</td><td class="num" data-field="redeliveries">${dash(region.redeliveries)}</td><td class="num" data-field="deadLettered">${dash(region.deadLettered)}</td>
          <td title=${region.reason ?? ''}>${region.status === 'live' ? ago(region.ageMs) : html`<${Badge} value=${region.status} kind=${region.status === 'unreachable' ? 'bad' : 'warn'} />`}</td></tr>`)}</tbody></table>`}
  </section>`
}

function Routing({ rows }) {
  return html`<section class="wide"><h2>Cluster routing</h2>
    ${rows.length === 0
      ? html`<p class="muted">No routing figures (a node without peers, or no reports yet).</p>`
      : html`<table data-testid="routing"><thead><tr><th>node</th><th class="num">peers up / known</th><th class="num">synced</th><th class="num">interest local / remote</th>
          <th class="num">msgs out / in</th><th class="num">bytes out / in</th><th class="num">dropped</th><th>as of</th></tr></thead>
        <tbody>${rows.map((row) => html`<tr key=${row.node} data-node-id=${row.node}>
          <td><b>${row.node}</b>${row.self ? html` <span class="muted">(this node)</span>` : null}</td>
          <td class="num">${row.routing.peersUp} / ${row.routing.peers}</td><td class="num">${row.routing.peersSynced}</td>
          <td class="num">${row.routing.localInterest} / ${row.routing.remoteInterest}</td>
          <td class="num">${row.routing.msgsOut} / ${row.routing.msgsIn}</td><td class="num">${bytes(row.routing.bytesOut)} / ${bytes(row.routing.bytesIn)}</td>
          <td class="num">${row.routing.dropped}</td>
          <td>${row.self ? 'live' : row.fresh ? ago(row.ageMs) : html`<${Badge} value="unreachable" kind="bad" />`}</td></tr>`)}</tbody></table>`}
  </section>`
}

function Charts({ history, version }) {
  const nodeNames = ['in msgs/s', 'out msgs/s']
  const streamNames = useMemo(() => {
    const totals = [...history.series.entries()].filter(([name]) => name.startsWith('stream ')).map(([name, points]) => [name, points.reduce((sum, point) => sum + (point ?? 0), 0)])
    return totals.sort((a, b) => b[1] - a[1]).slice(0, chartStreamsMax).map(([name]) => name).sort()
  }, [version])
  const nodeData = useMemo(() => history.data(nodeNames), [version])
  const streamData = useMemo(() => history.data(streamNames), [version, streamNames.join()])
  return html`<section class="wide"><h2>Rates on this node</h2>
    <div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:1rem">
      <${Chart} title="Client messages per second" names=${nodeNames} data=${nodeData} unit="msg/s" />
      ${streamNames.length === 0
        ? html`<p class="muted">Publish rates per stream appear here once messages flow.</p>`
        : html`<${Chart} title="Publishes per second by stream" names=${streamNames.map((name) => name.slice(7))} data=${streamData} unit="msg/s" />`}
    </div></section>`
}

function App() {
  const [snapshot, setSnapshot] = useState(null)
  const [connection, setConnection] = useState('connecting')
  const [authError, setAuthError] = useState(null)
  const [attempt, setAttempt] = useState(0)
  const history = useMemo(() => new History(), [])
  const [version, setVersion] = useState(0)

  useEffect(() => {
    if (authError !== null) return undefined
    const controller = new AbortController()
    let retry
    const onSnapshot = (next) => {
      const values = { 'in msgs/s': next.clients.inMsgsPerSec, 'out msgs/s': next.clients.outMsgsPerSec }
      for (const stream of [...next.streams, ...next.undeclaredTraffic]) values[`stream ${stream.stream}`] = stream.publishPerSec
      history.push(next.timeMs / 1000, values)
      setSnapshot(next)
      setVersion((value) => value + 1)
    }
    followStream(controller.signal, onSnapshot, setConnection)
      .then(() => {
        setConnection('reconnecting')
        retry = setTimeout(() => setAttempt((value) => value + 1), 200)
      })
      .catch((error) => {
        if (controller.signal.aborted) return
        if (error.auth) {
          setAuthError(error.message)
          return
        }
        setConnection('disconnected')
        retry = setTimeout(() => setAttempt((value) => value + 1), reconnectDelayMs)
      })
    return () => {
      controller.abort()
      clearTimeout(retry)
    }
  }, [attempt, authError])

  if (authError !== null) {
    return html`<${Login} message=${authError} onToken=${(token) => {
      if (token) sessionStorage.setItem(tokenKey, token)
      setAuthError(null)
    }} />`
  }
  const forget = () => {
    sessionStorage.removeItem(tokenKey)
    window.location.reload()
  }
  if (snapshot === null) {
    return html`<${Header} snapshot=${null} connection=${connection} onForget=${forget} /><main><p class="muted">Waiting for the node…</p></main>`
  }
  const banner = connection === 'disconnected' ? 'Lost the connection to this node: retrying…' : snapshot.banner
  return html`<${Header} snapshot=${snapshot} connection=${connection} onForget=${forget} />
    <main>
      ${banner ? html`<div class="banner ${connection === 'disconnected' || !snapshot.self.ready ? 'bad' : 'warn'}" data-testid="banner" role="alert">${banner}</div>` : null}
      <${Nodes} nodes=${snapshot.nodes} />
      <${Regions} regions=${snapshot.regions} designations=${snapshot.designations} />
      <section><h2>This node</h2><table class="wrap"><tbody>
        <tr><td>client connections</td><td class="num">${snapshot.clients.connections}</td></tr>
        <tr><td>subscriptions</td><td class="num">${snapshot.clients.subscriptions}</td></tr>
        <tr><td>messages in / out per second</td><td class="num">${rate(snapshot.clients.inMsgsPerSec)} / ${rate(snapshot.clients.outMsgsPerSec)}</td></tr>
        <tr><td>bytes in / out per second</td><td class="num">${bytes(snapshot.clients.inBytesPerSec)} / ${bytes(snapshot.clients.outBytesPerSec)}</td></tr>
        <tr><td>slow consumers</td><td class="num">${snapshot.clients.slowConsumers}</td></tr>
        <tr><td>resident memory</td><td class="num">${bytes(snapshot.process.residentMemoryBytes)}</td></tr>
        <tr><td>event-loop lag p99 / max</td><td class="num">${snapshot.process.eventLoopLagP99Ms.toFixed(1)} / ${snapshot.process.eventLoopLagMaxMs.toFixed(1)} ms</td></tr>
        <tr><td>up for</td><td class="num">${Math.round(snapshot.self.uptimeMs / 1000)} s</td></tr>
        ${snapshot.persistent
          ? html`<tr><td>persistent streams here (replicas)</td><td class="num">${snapshot.persistent.streams} (${snapshot.persistent.replicas})</td></tr>
            <tr><td>acked here (write / majority / all)</td><td class="num" data-testid="acked-here">${snapshot.persistent.acked.write} / ${snapshot.persistent.acked.majority} / ${snapshot.persistent.acked.all}</td></tr>
            <tr><td>written / forwarded / failed</td><td class="num">${snapshot.persistent.published} / ${snapshot.persistent.forwarded} / ${snapshot.persistent.failed}</td></tr>
            <tr><td>groups controlled here (outstanding, lag)</td><td class="num">${snapshot.persistent.groups} (${snapshot.persistent.outstanding}, ${snapshot.persistent.groupLag})</td></tr>`
          : null}
      </tbody></table></section>
      <${Charts} history=${history} version=${version} />
      <${Streams} streams=${snapshot.streams} undeclared=${snapshot.undeclaredTraffic} />
      <${Groups} groups=${snapshot.groups} />
      <${Routing} rows=${snapshot.routing} />
      ${snapshot.notes.map((note) => html`<p class="note" data-testid="note">${note}</p>`)}
    </main>`
}

const root = document.getElementById('app')
root.textContent = '' // the "Loading…" placeholder
render(html`<${App} />`, root)
