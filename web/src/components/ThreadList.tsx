import { relativeTime } from '../time'
import type { Thread } from '../types'

interface Props {
  threads: Thread[]
  selectedId: string | null
  hasMore: boolean
  error: string | null
  onSelect(thread: Thread): void
  onDelete(thread: Thread): void
  onLoadMore(): void
}

export function threadTitle(thread: Thread): string {
  return thread.title?.trim() || 'New chat'
}

export function ThreadList({ threads, selectedId, hasMore, error, onSelect, onDelete, onLoadMore }: Props) {
  return (
    <nav aria-label="Chats" className="min-h-0 flex-1 overflow-y-auto px-2 pb-4">
      {error && <p className="px-2 py-3 text-sm text-red-300">{error}</p>}
      {!error && threads.length === 0 && <p className="px-2 py-3 text-sm text-slate-300">No chats yet.</p>}
      <ul className="space-y-0.5">
        {threads.map((thread) => {
          const selected = thread.thread_id === selectedId
          return (
            <li key={thread.thread_id} className="group relative">
              <button
                type="button"
                data-testid="thread-item"
                data-thread-id={thread.thread_id}
                aria-current={selected ? 'page' : undefined}
                onClick={() => onSelect(thread)}
                className={`w-full rounded-lg py-2 pr-9 pl-3 text-left transition-colors focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none ${
                  selected ? 'bg-slate-700 text-white' : 'text-slate-300 hover:bg-slate-800 hover:text-white'
                }`}
              >
                <span className="block truncate text-sm">
                  {thread.metadata?.forked_from && (
                    <span className="mr-1 text-slate-400" title="A branch of another chat" data-testid="branch-mark">
                      ↳
                    </span>
                  )}
                  {threadTitle(thread)}
                </span>
                <span className="block truncate text-[11px] text-slate-300">
                  {[thread.collection, relativeTime(thread.updated_at || thread.created_at)].filter(Boolean).join(' · ')}
                </span>
              </button>
              <button
                type="button"
                aria-label={`Delete chat “${threadTitle(thread)}”`}
                title="Delete chat"
                onClick={() => onDelete(thread)}
                className="absolute top-1/2 right-1.5 -translate-y-1/2 rounded-md p-1.5 text-slate-400 hover:bg-slate-600 md:opacity-0 md:group-hover:opacity-100 hover:text-white focus-visible:opacity-100 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
              >
                <svg viewBox="0 0 20 20" fill="currentColor" className="size-4" aria-hidden="true">
                  <path
                    fillRule="evenodd"
                    d="M8.75 1A2.75 2.75 0 0 0 6 3.75v.443c-.795.077-1.584.176-2.365.298a.75.75 0 1 0 .23 1.482l.149-.022.841 10.518A2.75 2.75 0 0 0 7.596 19h4.807a2.75 2.75 0 0 0 2.742-2.53l.841-10.52.149.023a.75.75 0 0 0 .23-1.482A41.03 41.03 0 0 0 14 4.193V3.75A2.75 2.75 0 0 0 11.25 1h-2.5ZM10 4c.84 0 1.673.025 2.5.075V3.75c0-.69-.56-1.25-1.25-1.25h-2.5c-.69 0-1.25.56-1.25 1.25v.325C8.327 4.025 9.16 4 10 4ZM8.58 7.72a.75.75 0 0 0-1.5.06l.3 7.5a.75.75 0 1 0 1.5-.06l-.3-7.5Zm4.34.06a.75.75 0 1 0-1.5-.06l-.3 7.5a.75.75 0 1 0 1.5.06l.3-7.5Z"
                    clipRule="evenodd"
                  />
                </svg>
              </button>
            </li>
          )
        })}
      </ul>
      {hasMore && (
        <button
          type="button"
          onClick={onLoadMore}
          className="mt-2 w-full rounded-lg px-3 py-2 text-sm text-slate-300 hover:bg-slate-800 hover:text-white"
        >
          Load older chats
        </button>
      )}
    </nav>
  )
}
