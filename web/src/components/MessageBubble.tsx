import type { ChatMessage } from '../hooks/useThreadChat'
import { MessageText } from './MessageText'
import { SourcesList } from './SourcesList'

function Typing({ label }: { label: string }) {
  return (
    <span className="inline-flex items-center gap-2 text-sm text-slate-500">
      <span className="flex gap-1" aria-hidden="true">
        {[0, 150, 300].map((delay) => (
          <span
            key={delay}
            className="size-1.5 animate-bounce rounded-full bg-slate-400"
            style={{ animationDelay: `${delay}ms` }}
          />
        ))}
      </span>
      {label}
    </span>
  )
}

export function MessageBubble({ message }: { message: ChatMessage }) {
  if (message.role === 'user') {
    return (
      <div className="flex justify-end">
        <div
          data-testid="user-message"
          className="max-w-[85%] rounded-2xl rounded-br-md bg-indigo-600 px-4 py-2.5 text-white shadow-sm"
        >
          <MessageText text={message.content} />
        </div>
      </div>
    )
  }

  const streaming = message.status === 'streaming'
  const waitingLabel = message.runStatus === 'queued' ? 'Queued…' : message.sources ? 'Writing…' : 'Searching…'
  return (
    <div className="flex justify-start">
      <article
        data-testid="assistant-message"
        data-status={message.status}
        data-run-id={message.runId}
        aria-busy={streaming}
        className="max-w-[85%] min-w-0 rounded-2xl rounded-bl-md border border-slate-200 bg-white px-4 py-2.5 text-slate-800 shadow-sm"
      >
        {message.content ? (
          <MessageText
            text={message.content}
            sources={message.sources}
            after={streaming && <span className="ml-0.5 inline-block h-4 w-1.5 animate-pulse bg-slate-400 align-text-bottom" aria-hidden />}
          />
        ) : (
          streaming && <Typing label={waitingLabel} />
        )}
        {message.reconnecting && <p className="mt-2 text-xs text-amber-600">Connection lost, reconnecting…</p>}
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
        {message.status === 'cancelled' && <p className="mt-2 text-xs text-slate-500 italic">Stopped.</p>}
        {message.sources && <SourcesList sources={message.sources} />}
        {message.model && !streaming && <p className="mt-2 text-[11px] text-slate-400">{message.model}</p>}
      </article>
    </div>
  )
}
