// The client's own subject check. The server is the authority on subject syntax (and answers
// `-ERR 'Invalid Subject'`); the client only refuses what would corrupt the protocol framing
// (empty, whitespace, control characters) so a bad subject can never split a control line.

// Space, tab, CR, LF and other C0 controls, plus DEL.
// eslint-disable-next-line no-control-regex
const framingBreakers = /[\u0000-\u0020\u007f]/

/** A reason the subject cannot be sent, or undefined when it is safe to send. */
export function subjectFramingProblem(subject: string): string | undefined {
  if (subject.length === 0) return 'empty'
  if (framingBreakers.test(subject)) return 'contains whitespace or a control character'
  return undefined
}

/** A stricter, NATS-style check used only to guess which SUB a subject-less `-ERR` refers to. */
export function looksLikeValidSubscribeSubject(subject: string): boolean {
  if (subjectFramingProblem(subject) !== undefined) return false
  const tokens = subject.split('.')
  return tokens.every((token, index) => token.length > 0 && (token !== '>' || index === tokens.length - 1))
}
