// The geo benchmark's chart: one panel per measure (publish → ack, publish → local deliver,
// cross-region convergence), each the latency distribution (CDF: share of events at or below a
// latency, latency on a log axis) of every (system, region) — colour per region, Railgun solid,
// JetStream dashed. Hand-written SVG, no dependencies, no browser. Pure: samples in, text out.
import { quantile } from './stats.js'

export interface ChartSeries {
  readonly system: 'railgun' | 'jetstream'
  readonly label: string
  readonly region: string
  /** Latencies in ms (any order). */
  readonly samplesMs: readonly number[]
}

export interface ChartPanel {
  readonly title: string
  readonly series: readonly ChartSeries[]
}

export const chartLayout = {
  panelWidth: 380,
  panelHeight: 260,
  marginLeft: 52,
  marginRight: 16,
  marginTop: 66,
  marginBottom: 44,
  legendLineHeight: 16,
  /** Points per CDF line at most (quantiles at even steps). */
  pointsPerLineMax: 200,
  fontSize: 11,
} as const

/** Region colours, in the order regions appear (repeats past the end). */
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'] as const

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Decades covering every sample (at least 0.1 ms .. 1 s). */
function logRange(panels: readonly ChartPanel[]): { readonly min: number; readonly max: number } {
  let low = Number.POSITIVE_INFINITY
  let high = 0
  for (const panel of panels)
    for (const series of panel.series)
      for (const value of series.samplesMs)
        if (value > 0) {
          low = Math.min(low, value)
          high = Math.max(high, value)
        }
  const min = Math.min(-1, Math.floor(Math.log10(Number.isFinite(low) ? low : 0.1)))
  const max = Math.max(3, Math.ceil(Math.log10(high > 0 ? high : 1000)))
  return { min, max }
}

/** (latency, share) points of the CDF, at most `pointsPerLineMax`. */
export function cdfPoints(samplesMs: readonly number[]): { readonly ms: number; readonly share: number }[] {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  if (sorted.length === 0) return []
  const steps = Math.min(sorted.length, chartLayout.pointsPerLineMax)
  const points: { ms: number; share: number }[] = []
  for (let i = 1; i <= steps; i++) {
    const share = i / steps
    points.push({ ms: quantile(sorted, share), share })
  }
  return points
}

export function renderGeoChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
  const layout = chartLayout
  const regions = [...new Set(panels.flatMap((panel) => panel.series.map((series) => series.region)))]
  const colour = (region: string): string => palette[regions.indexOf(region) % palette.length]!
  const legendKeys = [...new Map(panels.flatMap((panel) => panel.series.map((series) => [`${series.label} ${series.region}`, series] as const))).values()]
  const width = panels.length * layout.panelWidth
  const legendHeight = legendKeys.length * layout.legendLineHeight + 8
  const height = layout.panelHeight + legendHeight
  const { min, max } = logRange(panels)
  const plotWidth = layout.panelWidth - layout.marginLeft - layout.marginRight
  const plotHeight = layout.panelHeight - layout.marginTop - layout.marginBottom
  const x = (valueMs: number): number => layout.marginLeft + ((Math.log10(Math.max(valueMs, 10 ** min)) - min) / (max - min)) * plotWidth
  const y = (share: number): number => layout.marginTop + (1 - share) * plotHeight
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${layout.fontSize}">`)
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`)
  out.push(`<text x="8" y="16" font-size="${layout.fontSize + 3}" font-weight="bold">${escapeXml(title)}</text>`)
  out.push(`<text x="8" y="32">${escapeXml(subtitle)}</text>`)
  panels.forEach((panel, index) => {
    out.push(`<g transform="translate(${index * layout.panelWidth},0)">`)
    out.push(`<text x="${layout.marginLeft}" y="${layout.marginTop - 14}" font-weight="bold">${escapeXml(panel.title)}</text>`)
    out.push(`<rect x="${layout.marginLeft}" y="${layout.marginTop}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`)
    for (let decade = min; decade <= max; decade++) {
      const gx = x(10 ** decade).toFixed(1)
      const label = decade < 0 ? `${10 ** decade}` : decade < 3 ? `${10 ** decade}` : `${10 ** (decade - 3)} s`
      out.push(`<line x1="${gx}" y1="${layout.marginTop}" x2="${gx}" y2="${layout.marginTop + plotHeight}" stroke="#eee"/>`)
      out.push(`<text x="${gx}" y="${layout.marginTop + plotHeight + 14}" text-anchor="middle">${escapeXml(label)}</text>`)
    }
    out.push(`<text x="${layout.marginLeft + plotWidth / 2}" y="${layout.marginTop + plotHeight + 30}" text-anchor="middle">latency, ms (log)</text>`)
    for (const share of [0, 0.5, 0.9, 1]) {
      const gy = y(share).toFixed(1)
      out.push(`<line x1="${layout.marginLeft}" y1="${gy}" x2="${layout.marginLeft + plotWidth}" y2="${gy}" stroke="#eee"/>`)
      out.push(`<text x="${layout.marginLeft - 4}" y="${gy}" text-anchor="end" dominant-baseline="middle">${Math.round(share * 100)}%</text>`)
    }
    const withoutData: ChartSeries[] = []
    for (const series of panel.series) {
      const points = cdfPoints(series.samplesMs)
      if (points.length === 0) {
        withoutData.push(series)
        continue
      }
      const path = points.map((point) => `${x(point.ms).toFixed(1)},${y(point.share).toFixed(1)}`).join(' ')
      const dash = series.system === 'jetstream' ? ' stroke-dasharray="5,3"' : ''
      out.push(`<polyline points="${path}" fill="none" stroke="${colour(series.region)}" stroke-width="1.5"${dash}><title>${escapeXml(`${series.label} ${series.region}: ${series.samplesMs.length} events`)}</title></polyline>`)
    }
    if (withoutData.length === panel.series.length) out.push(`<text x="${layout.marginLeft + plotWidth / 2}" y="${layout.marginTop + plotHeight / 2}" text-anchor="middle" fill="#777">not measured</text>`)
    else if (withoutData.length > 0) {
      const labels = [...new Set(withoutData.map((series) => series.label))].map((label) => `${label} (${withoutData.filter((series) => series.label === label).map((series) => series.region).join(', ')})`)
      out.push(`<text x="${layout.marginLeft}" y="${layout.marginTop - 3}" fill="#777" font-size="${layout.fontSize - 2}">no data: ${escapeXml(labels.join('; '))}</text>`)
    }
    out.push('</g>')
  })
  legendKeys.forEach((series, index) => {
    const ly = layout.panelHeight + index * layout.legendLineHeight + 4
    const dash = series.system === 'jetstream' ? ' stroke-dasharray="5,3"' : ''
    out.push(`<line x1="${layout.marginLeft}" y1="${ly}" x2="${layout.marginLeft + 28}" y2="${ly}" stroke="${colour(series.region)}" stroke-width="2"${dash}/>`)
    out.push(`<text x="${layout.marginLeft + 34}" y="${ly}" dominant-baseline="middle">${escapeXml(`${series.label} — ${series.region}`)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
