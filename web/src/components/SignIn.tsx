import { useState } from 'react'
import { api, ApiError, errorMessage } from '../api'
import { clearApiKey, getApiKey, setApiKey } from '../auth'

/** The API-key entry screen shown when the server answers 401; the key stays in this tab's session. */
export function SignIn({ onSignedIn }: { onSignedIn(): void }) {
  const [key, setKey] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(() =>
    getApiKey() ? 'The server did not accept the saved API key. Enter it again.' : null,
  )

  const submit = async () => {
    const value = key.trim()
    if (!value) return
    setBusy(true)
    setError(null)
    setApiKey(value)
    try {
      await api.listThreads()
      onSignedIn()
    } catch (err) {
      clearApiKey()
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This API key was not accepted. Check it and try again (`ragline keys create --user NAME` makes one).'
          : errorMessage(err),
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="grid min-h-full place-items-center bg-slate-50 px-4">
      <form
        data-testid="sign-in"
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
        className="w-full max-w-sm space-y-4 rounded-2xl border border-slate-200 bg-white p-6 shadow-sm"
      >
        <div className="flex items-center gap-2">
          <span className="grid size-8 place-items-center rounded-lg bg-indigo-600 text-sm font-bold text-white" aria-hidden>
            r
          </span>
          <h1 className="text-lg font-semibold text-slate-800">Sign in to ragline</h1>
        </div>
        <p className="text-sm text-slate-600">This server requires an API key. It is kept in this browser tab only.</p>
        <div className="space-y-1">
          <label htmlFor="api-key" className="block text-sm font-medium text-slate-700">
            API key
          </label>
          <input
            id="api-key"
            data-testid="api-key"
            type="password"
            autoComplete="current-password"
            autoFocus
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'sign-in-error' : undefined}
            className="h-10 w-full rounded-lg border border-slate-300 px-3 text-sm focus-visible:border-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none"
          />
        </div>
        {error && (
          <p id="sign-in-error" role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
            {error}
          </p>
        )}
        <button
          type="submit"
          data-testid="sign-in-submit"
          disabled={busy || !key.trim()}
          className="h-10 w-full rounded-lg bg-indigo-600 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:outline-none disabled:cursor-not-allowed disabled:bg-slate-400"
        >
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
