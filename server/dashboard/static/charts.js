/* global window */
// Time-series charts for the dashboard: a preact component around uPlot (no hand-rolled
// drawing), and the bounded history the page keeps of the rates it has seen.
import { h } from './vendor/preact.mjs'
import { useEffect, useRef } from './vendor/hooks.mjs'
import htm from './vendor/htm.mjs'
import uPlot from './vendor/uplot.mjs'

const html = htm.bind(h)
const colors = ['#3558d4', '#1a7f37', '#cf222e', '#9a6700', '#8250df', '#0a7ea4', '#bf3989', '#57606a']

/** Points kept per series (at one snapshot a second: five minutes). */
export const historyPointsMax = 300
/** Streams drawn at most in the per-stream chart (the busiest). */
export const chartStreamsMax = 6

/** A fixed-length history of named series, aligned on one time axis (seconds). */
export class History {
  constructor() {
    this.times = []
    this.series = new Map()
  }

  /** Adds one point in time; `values` maps series name → value (absent = null, a gap). */
  push(timeSeconds, values) {
    this.times.push(timeSeconds)
    for (const name of Object.keys(values)) {
      if (!this.series.has(name)) this.series.set(name, new Array(this.times.length - 1).fill(null))
    }
    for (const [name, points] of this.series) points.push(name in values ? values[name] : null)
    if (this.times.length > historyPointsMax) {
      this.times.shift()
      for (const points of this.series.values()) points.shift()
    }
    // Streams come and go: forget one whose whole window is idle (node-wide series stay).
    for (const [name, points] of [...this.series]) {
      if (name.startsWith('stream ') && points.every((point) => point === null || point === 0)) this.series.delete(name)
    }
  }

  /** uPlot data for the named series: [times, ...values]. */
  data(names) {
    return [this.times.slice(), ...names.map((name) => (this.series.get(name) ?? new Array(this.times.length).fill(null)).slice())]
  }
}

export function Chart({ title, names, data, unit }) {
  const holder = useRef(null)
  const plot = useRef(null)
  const key = names.join('\u0000')
  useEffect(() => {
    const element = holder.current
    if (element === null) return undefined
    const width = Math.max(280, element.clientWidth)
    const options = {
      title,
      width,
      height: 170,
      scales: { x: { time: true } },
      series: [{}, ...names.map((label, index) => ({ label, stroke: colors[index % colors.length], width: 1.5, value: (_, v) => (v === null ? '—' : `${v.toFixed(1)} ${unit}`) }))],
      axes: [{}, { size: 64 }],
      legend: { live: false },
    }
    plot.current = new uPlot(options, data, element)
    const onResize = () => plot.current?.setSize({ width: Math.max(280, element.clientWidth), height: 170 })
    window.addEventListener('resize', onResize)
    return () => {
      window.removeEventListener('resize', onResize)
      plot.current?.destroy()
      plot.current = null
    }
  }, [key])
  useEffect(() => {
    plot.current?.setData(data)
  }, [data])
  return html`<div class="chart" ref=${holder} data-chart=${title}></div>`
}
