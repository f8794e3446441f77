// Scraping a node's /metrics in tests: the Prometheus text format parsed into `name{labels}` →
// value (labels as the exposition writes them, in declaration order).
export type Scrape = ReadonlyMap<string, number>

export async function scrape(adminUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${adminUrl}/metrics`, { headers })
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`)
  return parseExposition(await response.text())
}

export function parseExposition(text: string): Scrape {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}

/** The value of `name` with exactly these labels (in declaration order), or undefined. */
export function metric(values: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const entries = Object.entries(labels)
  const key = entries.length === 0 ? name : `${name}{${entries.map(([label, value]) => `${label}="${value}"`).join(',')}}`
  return values.get(key)
}
