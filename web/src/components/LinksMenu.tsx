import { useCallback, useEffect, useState } from 'react'
import { api, errorMessage } from '../api'
import type { ThreadLink } from '../types'

const linkUrl = (path: string) => `${window.location.origin}${path}`

/** "Share link": read-only links to this chat (a snapshot or live, for anyone or signed-in users), and revoking them. */
export function LinksMenu({ threadId }: { threadId: string }) {
  const [links, setLinks] = useState<ThreadLink[]>([])
  const [mode, setMode] = useState<ThreadLink['mode']>('snapshot')
  const [isPublic, setPublic] = useState(false)
  const [made, setMade] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  const refresh = useCallback(() => {
    api.listLinks(threadId).then(setLinks, (err) => setError(errorMessage(err)))
  }, [threadId])
  useEffect(() => {
    setMade(null)
    setError(null)
    refresh()
  }, [refresh])

  const create = async () => {
    setError(null)
    try {
      const link = await api.createLink(threadId, { mode, public: isPublic })
      setMade(linkUrl(link.path))
      refresh()
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  const revoke = async (linkId: string) => {
    setError(null)
    try {
      await api.revokeLink(threadId, linkId)
      setMade(null)
      refresh()
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  return (
    <details className="relative" data-testid="links">
      <summary className="flex h-9 cursor-pointer list-none items-center rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none">
        Share link
      </summary>
      <div className="absolute right-0 z-10 mt-1 w-80 space-y-3 rounded-lg border border-slate-200 bg-white p-3 text-sm shadow-lg">
        <fieldset className="space-y-1">
          <legend className="text-xs font-semibold text-slate-600">A read-only link to this chat</legend>
          <label className="flex items-center gap-2">
            <input type="radio" name="link-mode" checked={mode === 'snapshot'} onChange={() => setMode('snapshot')} data-testid="link-snapshot" />
            Snapshot: the chat as it is now
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="link-mode" checked={mode === 'live'} onChange={() => setMode('live')} data-testid="link-live" />
            Live: follows new messages
          </label>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} data-testid="link-public" />
            Anyone with the link (no account)
          </label>
        </fieldset>
        <button
          type="button"
          onClick={() => void create()}
          data-testid="link-create"
          className="h-8 rounded-lg bg-indigo-600 px-3 text-white hover:bg-indigo-700 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
        >
          Create link
        </button>
        {made && (
          <div className="space-y-1">
            <p className="text-xs text-slate-600">Copy it now: it is shown only once. Sources a viewer may not read show as withheld.</p>
            <input readOnly value={made} data-testid="link-url" onFocus={(e) => e.currentTarget.select()} className="w-full rounded border border-slate-300 px-2 py-1 font-mono text-xs" />
          </div>
        )}
        {error && <p role="alert" className="text-xs text-red-700">{error}</p>}
        {links.length > 0 && (
          <ul data-testid="link-list" className="space-y-1 border-t border-slate-100 pt-2">
            {links.map((link) => (
              <li key={link.link_id} data-testid="link-item" className="flex items-center justify-between gap-2 text-xs">
                <span>
                  {link.mode === 'live' ? 'Live' : 'Snapshot'} · {link.public ? 'anyone' : 'signed-in users'} ·{' '}
                  {new Date(link.created_at).toLocaleString()}
                </span>
                <button type="button" onClick={() => void revoke(link.link_id)} data-testid="link-revoke" className="text-red-700 hover:underline">
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </details>
  )
}
