import { useCallback, useEffect, useState } from 'react'
import { api, errorMessage } from '../api'
import type { Share } from '../types'

interface Props {
  collection: string
}

const field =
  'h-8 rounded-lg border border-slate-300 px-2 text-sm focus-visible:border-indigo-400 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none'

/** Who else reads (or edits) one of the caller's own collections; share with a user or a group, revoke. */
export function SharesPanel({ collection }: Props) {
  const [shares, setShares] = useState<Share[]>([])
  const [kind, setKind] = useState<'user' | 'group'>('user')
  const [name, setName] = useState('')
  const [role, setRole] = useState<Share['role']>('reader')
  const [error, setError] = useState<string | null>(null)

  const load = useCallback(async () => {
    try {
      setShares(await api.listShares(collection))
      setError(null)
    } catch (err) {
      setError(errorMessage(err))
    }
  }, [collection])

  useEffect(() => {
    setShares([])
    void load()
  }, [load])

  const share = async () => {
    const grantee = name.trim()
    if (!grantee) return
    try {
      await api.share(collection, { [kind]: grantee }, role)
      setName('')
      await load()
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  const revoke = async (s: Share) => {
    try {
      await api.unshare(collection, s.user ? { user: s.user } : { group: s.group ?? undefined })
      await load()
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  return (
    <section aria-label={`Sharing ${collection}`} className="space-y-2" data-testid="shares">
      <h3 className="text-xs font-semibold tracking-wide text-slate-600 uppercase">Shared with</h3>
      {shares.length === 0 ? (
        <p className="text-xs text-slate-600">Only you can read {collection}.</p>
      ) : (
        <ul className="space-y-1">
          {shares.map((s) => {
            const who = s.user ?? `${s.group} (group)`
            return (
              <li key={`${s.user ?? ''}/${s.group ?? ''}`} data-testid="share-item" className="flex items-center gap-2 text-sm">
                <span className="min-w-0 flex-1 truncate text-slate-800">{who}</span>
                <span className="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">{s.role}</span>
                <button
                  type="button"
                  onClick={() => void revoke(s)}
                  aria-label={`Revoke ${who}`}
                  data-testid="revoke-share"
                  className="rounded-md px-2 py-1 text-xs text-slate-600 hover:bg-red-50 hover:text-red-700 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
                >
                  Revoke
                </button>
              </li>
            )
          })}
        </ul>
      )}
      <form
        className="flex flex-wrap gap-2"
        onSubmit={(e) => {
          e.preventDefault()
          void share()
        }}
      >
        <label className="sr-only" htmlFor="share-kind">
          Share with a user or a group
        </label>
        <select id="share-kind" data-testid="share-kind" value={kind} onChange={(e) => setKind(e.target.value as 'user' | 'group')} className={field}>
          <option value="user">User</option>
          <option value="group">Group</option>
        </select>
        <label className="sr-only" htmlFor="share-name">
          {kind === 'user' ? 'User name' : 'Group name'}
        </label>
        <input
          id="share-name"
          data-testid="share-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder={kind === 'user' ? 'user name' : 'group name'}
          className={`${field} min-w-0 flex-1 placeholder:text-slate-500`}
        />
        <label className="sr-only" htmlFor="share-role">
          Role
        </label>
        <select id="share-role" data-testid="share-role" value={role} onChange={(e) => setRole(e.target.value as Share['role'])} className={field}>
          <option value="reader">can read</option>
          <option value="editor">can edit</option>
        </select>
        <button
          type="submit"
          data-testid="share-submit"
          disabled={!name.trim()}
          className="h-8 rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none disabled:opacity-50"
        >
          Share
        </button>
      </form>
      {error && (
        <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-xs text-red-700">
          {error}
        </p>
      )}
    </section>
  )
}
