// Public entry of subjects: validation, matching and the stream/topic mapping.
export {
  subjectLimits,
  subjectErrorTexts,
  wildcardOneToken,
  wildcardTail,
  wildcardZeroOrMore,
  checkPublishSubject,
  checkSubscribeSubject,
  checkQueueName,
  isValidPublishSubject,
  isValidSubscribeSubject,
  hasWildcard,
  utf8Bytes,
} from './validate.js'
export type { SubjectCheck } from './validate.js'
export { matchSubject, matchTokens } from './match.js'
export { streamSubject, streamPattern, splitStreamSubject } from './stream.js'
