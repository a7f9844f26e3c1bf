import { useCallback, useEffect, useState } from 'react'
import { api, ApiError, errorMessage } from '../api'
import type { SharedThread } from '../types'
import { Markdown } from './Markdown'
import { SignIn } from './SignIn'

type Shown = SharedThread['messages'][number]

function SharedSources({ sources }: { sources: NonNullable<Shown['sources']> }) {
  if (sources.length === 0) return null
  return (
    <ol data-testid="shared-sources" className="mt-3 space-y-1 border-t border-slate-100 pt-3 text-sm">
      {sources.map((source, i) =>
        'withheld' in source ? (
          <li key={i} data-testid="source-withheld" className="text-slate-500 italic">
            [{i + 1}] withheld: you do not have access to this document
          </li>
        ) : (
          <li key={i} data-testid="shared-source" className="text-slate-700">
            [{i + 1}] {source.title && source.title !== source.source ? `${source.title} · ` : ''}
            {source.source}
            {source.page != null && `, p. ${source.page}`}
          </li>
        ),
      )}
    </ol>
  )
}

/** The page a thread's read-only link opens (`/shared/{token}`): the conversation, no composer. */
export function SharedThreadView({ token }: { token: string }) {
  const [shown, setShown] = useState<SharedThread | null>(null)
  const [error, setError] = useState<ApiError | Error | null>(null)
  const load = useCallback(() => {
    setError(null)
    api.openLink(token).then(setShown, (err) => setError(err instanceof Error ? err : new Error(String(err))))
  }, [token])
  useEffect(load, [load])

  if (error instanceof ApiError && error.status === 401) return <SignIn onSignedIn={load} />
  return (
    <main className="mx-auto max-w-3xl px-4 py-6" data-testid="shared-thread">
      {error && (
        <p role="alert" className="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
          {error instanceof ApiError && error.status === 404 ? 'This link does not exist or was revoked.' : errorMessage(error)}
        </p>
      )}
      {shown && (
        <>
          <header className="mb-4 border-b border-slate-200 pb-3">
            <h1 className="text-lg font-semibold text-slate-900">{shown.thread.title || 'Shared chat'}</h1>
            <p className="text-xs text-slate-600">
              Shared by {shown.shared_by ?? 'someone'} · {shown.link.mode === 'live' ? 'live' : `snapshot of ${new Date(shown.link.created_at).toLocaleString()}`} · read-only
            </p>
          </header>
          <ol className="space-y-4">
            {shown.messages.map((m, i) => (
              <li key={i} data-testid={`shared-${m.role}`} className={m.role === 'user' ? 'rounded-xl bg-indigo-50 px-4 py-3' : 'rounded-xl border border-slate-200 px-4 py-3'}>
                {m.role === 'assistant' ? (
                  <Markdown content={m.content} claims={m.claims} sourceCount={m.sources?.length ?? 0} />
                ) : (
                  <p className="whitespace-pre-wrap">{m.content}</p>
                )}
                {m.sources && <SharedSources sources={m.sources} />}
              </li>
            ))}
          </ol>
        </>
      )}
    </main>
  )
}
