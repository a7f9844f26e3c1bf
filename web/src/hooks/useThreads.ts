/** The caller's threads, newest first, with paging, create and delete. */
import { useCallback, useEffect, useState } from 'react'
import { api, errorMessage } from '../api'
import type { Thread } from '../types'

export function useThreads() {
  const [threads, setThreads] = useState<Thread[]>([])
  const [nextCursor, setNextCursor] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  /** Reloads the first page, keeping older pages already loaded. */
  const refresh = useCallback(async () => {
    try {
      const page = await api.listThreads()
      setError(null)
      // Older threads loaded by "load more" stay below the fresh first page.
      setThreads((old) => {
        if (!page.next_cursor) return page.items
        const fresh = new Set(page.items.map((t) => t.thread_id))
        return [...page.items, ...old.filter((t) => !fresh.has(t.thread_id))]
      })
      setNextCursor((cursor) => (page.next_cursor ? (cursor ?? page.next_cursor) : null))
    } catch (err) {
      setError(errorMessage(err))
    }
  }, [])

  useEffect(() => {
    void refresh()
  }, [refresh])

  const loadMore = useCallback(async () => {
    if (!nextCursor) return
    try {
      const page = await api.listThreads(nextCursor)
      setThreads((old) => {
        const known = new Set(old.map((t) => t.thread_id))
        return [...old, ...page.items.filter((t) => !known.has(t.thread_id))]
      })
      setNextCursor(page.next_cursor ?? null)
    } catch (err) {
      setError(errorMessage(err))
    }
  }, [nextCursor])

  const create = useCallback(async (options: { collection?: string; model?: string }) => {
    const thread = await api.createThread(options)
    setThreads((old) => [thread, ...old.filter((t) => t.thread_id !== thread.thread_id)])
    return thread
  }, [])

  const remove = useCallback(async (threadId: string) => {
    await api.deleteThread(threadId)
    setThreads((old) => old.filter((t) => t.thread_id !== threadId))
  }, [])

  return { threads, hasMore: nextCursor !== null, error, refresh, loadMore, create, remove }
}
