import { memo, useMemo, useState } from 'react'
import { answerWithSources, copyText, sourceLabel } from '../copy'
import type { ChatMessage } from '../hooks/useThreadChat'
import { checkableClaims } from '../markdown/plugins'
import { FeedbackButtons } from './FeedbackButtons'
import { CitationContext, Markdown, type CitationActions } from './Markdown'
import { RunProgressView } from './RunProgressView'
import { SourcesList } from './SourcesList'

interface Props {
  message: ChatMessage
  /** Opens source `n` (1-based) of this message in the passage panel. */
  onOpenSource(message: ChatMessage, n: number): void
  hideUnsupported: boolean
  /** Only for the last answer: ask the same question again. */
  onRegenerate?: () => void
  /** Only for the last question: put it back into the composer. */
  onEdit?: () => void
  /** For an earlier question: edit it in a new branch (this thread stays as it is). */
  onBranch?: (message: ChatMessage) => void
  selectedSource?: number | null
}

const actionClass =
  'rounded-md px-2 py-1 text-xs text-slate-600 hover:bg-slate-100 hover:text-slate-900 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none'

export const MessageBubble = memo(function MessageBubble({
  message,
  onOpenSource,
  hideUnsupported,
  onRegenerate,
  onEdit,
  onBranch,
  selectedSource,
}: Props) {
  const [copied, setCopied] = useState(false)
  const sources = message.sources
  const claims = useMemo(() => checkableClaims(message.content, message.claims), [message.content, message.claims])
  const actions = useMemo<CitationActions>(
    () => ({
      open: (n) => onOpenSource(message, n),
      hideUnsupported,
      label: (n) => (sources?.[n - 1] ? sourceLabel(sources[n - 1]) : `Source ${n}`),
    }),
    [message, onOpenSource, hideUnsupported, sources],
  )

  if (message.role === 'user') {
    return (
      <div className="group flex flex-col items-end gap-1">
        <div
          data-testid="user-message"
          className="max-w-[85%] rounded-2xl rounded-br-md bg-indigo-600 px-4 py-2.5 break-words whitespace-pre-wrap text-white shadow-sm"
        >
          {message.content}
        </div>
        {onEdit && (
          <button type="button" data-testid="edit-last" onClick={onEdit} className={actionClass}>
            Edit and resend
          </button>
        )}
        {onBranch && (
          <button
            type="button"
            data-testid="edit-branch"
            onClick={() => onBranch(message)}
            title="Ask it differently in a new branch; this chat stays as it is"
            className={`${actionClass} md:opacity-0 md:group-hover:opacity-100 focus-visible:opacity-100`}
          >
            Edit in a new branch
          </button>
        )}
      </div>
    )
  }

  const streaming = message.status === 'streaming'
  const unsupported = claims.filter((c) => !c.supported).length
  const copy = async () => {
    await copyText(answerWithSources(message.content, sources))
    setCopied(true)
    setTimeout(() => setCopied(false), 2000)
  }

  return (
    <div className="flex justify-start">
      <article
        data-testid="assistant-message"
        data-status={message.status}
        data-run-id={message.runId}
        aria-busy={streaming}
        className="max-w-[92%] min-w-0 rounded-2xl rounded-bl-md border border-slate-200 bg-white px-4 py-3 text-slate-800 shadow-sm sm:max-w-[85%]"
      >
        <CitationContext.Provider value={actions}>
          {message.content ? (
            <div data-testid="message-text" className="markdown">
              <Markdown content={message.content} claims={streaming ? null : claims} sourceCount={sources?.length ?? 0} />
            </div>
          ) : null}
          {streaming && message.progress && (
            <RunProgressView progress={message.progress} passages={sources?.length} />
          )}
          {streaming && message.content && (
            <span className="ml-0.5 inline-block h-4 w-1.5 animate-pulse bg-slate-400 align-text-bottom" aria-hidden />
          )}
        </CitationContext.Provider>
        {message.reconnecting && <p className="mt-2 text-xs text-amber-700">Connection lost, reconnecting…</p>}
        {message.error && (
          <p role="alert" className="mt-2 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
            {message.error.message}
          </p>
        )}
        {message.status === 'failed' && !message.error && (
          <p role="alert" className="mt-2 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
            The answer could not be completed.
          </p>
        )}
        {message.status === 'cancelled' && <p className="mt-2 text-xs text-slate-600 italic">Stopped.</p>}
        {unsupported > 0 && !streaming && (
          <p className="mt-2 text-xs text-slate-600" data-testid="unsupported-note">
            {hideUnsupported
              ? `${unsupported} ${unsupported === 1 ? 'sentence' : 'sentences'} not supported by the sources ${unsupported === 1 ? 'is' : 'are'} hidden.`
              : `${unsupported} ${unsupported === 1 ? 'sentence is' : 'sentences are'} not supported by the sources (dotted underline).`}
          </p>
        )}
        {sources && sources.length > 0 && (
          <SourcesList sources={sources} selected={selectedSource ?? null} onOpen={(n) => onOpenSource(message, n)} />
        )}
        {!streaming && (
          <div className="mt-2 flex flex-wrap items-center gap-1 border-t border-slate-100 pt-2">
            {message.content && (
              <button type="button" data-testid="copy-answer" onClick={() => void copy()} className={actionClass}>
                {copied ? 'Copied' : sources?.length ? 'Copy with sources' : 'Copy'}
              </button>
            )}
            {onRegenerate && (
              <button type="button" data-testid="regenerate" onClick={onRegenerate} className={actionClass}>
                Regenerate
              </button>
            )}
            {message.messageId && message.status === 'complete' && <FeedbackButtons messageId={message.messageId} />}
            {message.model && <span className="ml-auto text-[11px] text-slate-500">{message.model}</span>}
          </div>
        )}
        <span className="sr-only" aria-live="polite">
          {copied ? 'Answer copied with its sources.' : ''}
        </span>
      </article>
    </div>
  )
})
