// How an ES stream name and a topic map onto a subject (see README.md). Pure.
// The stream name is the first token; the topic (possibly empty, possibly several tokens) follows.
// Namespaces never appear: a connection is bound to one namespace, its own subject space.

/** `orders` + `eu.created` → `orders.eu.created`; `orders` + `` → `orders`. */
export function streamSubject(stream: string, topic: string): string {
  return topic.length === 0 ? stream : `${stream}.${topic}`
}

/** `orders` + `eu.#` → `orders.eu.#` (a subscribe pattern); an empty topic pattern → `orders`. */
export function streamPattern(stream: string, topicPattern: string): string {
  return streamSubject(stream, topicPattern)
}

/** Inverse of streamSubject: the first token is the stream, the rest (maybe empty) the topic. */
export function splitStreamSubject(subject: string): { readonly stream: string; readonly topic: string } {
  const dot = subject.indexOf('.')
  return dot < 0 ? { stream: subject, topic: '' } : { stream: subject.slice(0, dot), topic: subject.slice(dot + 1) }
}
