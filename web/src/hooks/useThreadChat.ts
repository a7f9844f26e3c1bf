/** Messages of one thread, sending, streaming the answer and stopping it. */
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, ApiError, errorMessage } from '../api'
import { openRunStream } from '../runStream'
import type { ApiMessage, Run, RunError, RunStatus, Source } from '../types'

export type MessageStatus = 'complete' | 'streaming' | 'failed' | 'cancelled'

export interface ChatMessage {
  key: string
  role: 'user' | 'assistant'
  content: string
  status: MessageStatus
  runId?: string
  runStatus?: RunStatus
  sources?: Source[]
  error?: RunError
  model?: string
  reconnecting?: boolean
}

const ACTIVE_STATES = new Set(['pending', 'queued', 'running', 'streaming', 'in_progress'])
const FAILED_STATES = new Set(['failed', 'error'])
const MAX_RUN_LOOKUPS = 20

function messageStatus(state: string | undefined): MessageStatus {
  if (!state) return 'complete'
  if (ACTIVE_STATES.has(state)) return 'streaming'
  if (FAILED_STATES.has(state)) return 'failed'
  return state === 'cancelled' ? 'cancelled' : 'complete'
}

function fromApi(m: ApiMessage): ChatMessage {
  return {
    key: m.message_id,
    role: m.role,
    content: m.content ?? '',
    status: messageStatus(m.state),
    runId: m.run_id ?? undefined,
    sources: m.sources ?? undefined,
  }
}

function runError(run: Run): RunError | undefined {
  if (!run.error) return undefined
  return typeof run.error === 'string' ? { code: 'run_failed', message: run.error } : run.error
}

function outcome(status: RunStatus): MessageStatus {
  if (status === 'done') return 'complete'
  return status === 'cancelled' ? 'cancelled' : 'failed'
}

interface Callbacks {
  /** Something changed that the thread list should reflect (a message sent, a run finished). */
  onActivity: () => void
  /** Creates a thread (without selecting it) for a message sent while none is selected. */
  createThread: () => Promise<string>
  /** Selects a thread this hook created; its messages are then kept rather than reloaded. */
  selectThread: (threadId: string) => void
}

export function useThreadChat(threadId: string | null, callbacks: Callbacks) {
  const [messages, setMessages] = useState<ChatMessage[]>([])
  const [loading, setLoading] = useState(false)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [activeRunId, setActiveRunId] = useState<string | null>(null)
  const closeStream = useRef<(() => void) | null>(null)
  const currentThread = useRef(threadId)
  const createdHere = useRef<string | null>(null)
  const latest = useRef(callbacks)
  latest.current = callbacks

  const update = useCallback((key: string, change: (m: ChatMessage) => Partial<ChatMessage>) => {
    setMessages((all) => all.map((m) => (m.key === key ? { ...m, ...change(m) } : m)))
  }, [])

  const stopFollowing = useCallback(() => {
    closeStream.current?.()
    closeStream.current = null
    setActiveRunId(null)
  }, [])

  /** Streams a run into the assistant message `key`, replaying its log from the start. */
  const follow = useCallback(
    (runId: string, key: string) => {
      closeStream.current?.()
      setActiveRunId(runId)
      update(key, () => ({ content: '', status: 'streaming' }))
      const finish = () => {
        closeStream.current = null
        setActiveRunId((id) => (id === runId ? null : id))
        latest.current.onActivity()
      }
      closeStream.current = openRunStream(runId, {
        onStatus: (runStatus) => update(key, () => ({ runStatus })),
        onSources: (sources) => update(key, () => ({ sources })),
        onToken: (delta) => update(key, (m) => ({ content: m.content + delta })),
        onFinal: (final) =>
          update(key, (m) => ({ content: final.content, sources: final.sources ?? m.sources, model: final.model })),
        onError: (error) => update(key, () => ({ error })),
        onDone: (status) => {
          update(key, () => ({ status: outcome(status), runStatus: status, reconnecting: false }))
          finish()
        },
        onReconnecting: () => update(key, () => ({ reconnecting: true })),
        onOpen: () => update(key, () => ({ reconnecting: false })),
        onConnectionLost: () => {
          update(key, (m) => ({
            status: 'failed',
            reconnecting: false,
            error: m.error ?? { code: 'stream_lost', message: 'Lost the connection to the answer stream.' },
          }))
          finish()
        },
      })
    },
    [update],
  )

  /**
   * After loading history: follow a run that is still going, and give every question whose run
   * left no reply (failed, cancelled, still queued) a bubble saying what happened to it.
   */
  const resolveUnanswered = useCallback(
    async (loaded: ChatMessage[], isCurrent: () => boolean) => {
      const last = loaded[loaded.length - 1]
      if (last?.role === 'assistant' && last.runId && last.status === 'streaming') {
        follow(last.runId, last.key)
        return
      }
      const unanswered = loaded
        .filter((m, i) => m.role === 'user' && m.runId && loaded[i + 1]?.role !== 'assistant')
        .slice(-MAX_RUN_LOOKUPS)
      const runs = await Promise.all(unanswered.map((m) => api.getRun(m.runId!).catch(() => null)))
      if (!isCurrent()) return
      const replies = new Map<string, ChatMessage>()
      let active: ChatMessage | undefined
      runs.forEach((run, i) => {
        if (!run || run.status === 'done') return
        const running = run.status === 'queued' || run.status === 'running'
        const reply: ChatMessage = {
          key: `run:${run.run_id}`,
          role: 'assistant',
          content: '',
          runId: run.run_id,
          runStatus: run.status,
          status: running ? 'streaming' : outcome(run.status),
          error: runError(run),
        }
        replies.set(unanswered[i].key, reply)
        if (running) active = reply
      })
      if (replies.size === 0) return
      setMessages((all) => all.flatMap((m) => (replies.has(m.key) ? [m, replies.get(m.key)!] : [m])))
      if (active) follow(active.runId!, active.key)
    },
    [follow],
  )

  useEffect(() => {
    currentThread.current = threadId
    if (threadId && threadId === createdHere.current) return
    createdHere.current = null
    stopFollowing()
    setMessages([])
    setLoadError(null)
    if (!threadId) return
    let current = true
    setLoading(true)
    api
      .listMessages(threadId)
      .then((items) => {
        if (!current) return
        const loaded = items.map(fromApi)
        setMessages(loaded)
        return resolveUnanswered(loaded, () => current)
      })
      .catch((err) => current && setLoadError(errorMessage(err)))
      .finally(() => current && setLoading(false))
    return () => {
      current = false
      closeStream.current?.()
      closeStream.current = null
    }
  }, [threadId, stopFollowing, resolveUnanswered])

  /** Posts a message and streams the answer. Throws ApiError when the server refuses it. */
  const send = useCallback(
    async (content: string, options: { model?: string; collection?: string } = {}) => {
      let target = threadId
      if (!target) {
        target = await latest.current.createThread()
        createdHere.current = target
        currentThread.current = target
        latest.current.selectThread(target)
      }
      const res = await api.postMessage(target, { content, model: options.model, collection: options.collection })
      if (currentThread.current !== target) return
      const key = `run:${res.run_id}`
      setMessages((all) => [
        ...all,
        { key: res.message_id, role: 'user', content, status: 'complete', runId: res.run_id },
        { key, role: 'assistant', content: '', status: 'streaming', runId: res.run_id, runStatus: res.status as RunStatus },
      ])
      follow(res.run_id, key)
      latest.current.onActivity()
    },
    [threadId, follow],
  )

  /** Asks the server to cancel the active run; the stream then ends with `done: cancelled`. */
  const stop = useCallback(async () => {
    if (!activeRunId) return
    try {
      await api.cancelRun(activeRunId)
    } catch (err) {
      if (err instanceof ApiError && err.code === 'run_finished') return
      throw err
    }
  }, [activeRunId])

  return { messages, loading, loadError, activeRunId, send, stop }
}
