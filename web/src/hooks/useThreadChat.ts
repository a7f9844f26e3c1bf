/** Messages of one thread, sending, streaming the answer (with its progress) and stopping it. */
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, ApiError, errorMessage } from '../api'
import { openRunStream } from '../runStream'
import type { ApiMessage, Claim, MessageState, Run, RunError, RunStage, RunStatus, Source, StatusEvent } from '../types'

export type MessageStatus = MessageState | 'streaming'

/** Where a run stands while the user waits. */
export interface RunProgress {
  stage: RunStage
  /** 0..1 within the stage, when the server knows it. */
  progress?: number
  /** Place in the model's queue. */
  position?: number
  /** When this stage began (client clock, ms), for an estimate of what is left. */
  since: number
}

export interface ChatMessage {
  key: string
  /** The server's id of the message (an answer streaming has it from its `final` event). */
  messageId?: string
  role: 'user' | 'assistant'
  content: string
  status: MessageStatus
  runId?: string
  runStatus?: RunStatus
  progress?: RunProgress
  sources?: Source[]
  claims?: Claim[]
  error?: RunError
  model?: string
  reconnecting?: boolean
}

const MAX_RUN_LOOKUPS = 20
/** Claims of finished answers are read back from their run's log for the newest few. */
const CLAIM_LOOKUPS = 3

function fromApi(m: ApiMessage): ChatMessage {
  return {
    key: m.message_id,
    messageId: m.message_id,
    role: m.role,
    content: m.content ?? '',
    status: m.state ?? 'complete',
    runId: m.run_id ?? undefined,
    sources: m.sources ?? undefined,
    claims: m.claims ?? undefined,
  }
}

function outcome(status: RunStatus): MessageStatus {
  if (status === 'done') return 'complete'
  return status === 'cancelled' ? 'cancelled' : 'failed'
}

/** The progress after a `status` event; a new stage restarts the clock. */
export function nextProgress(previous: RunProgress | undefined, event: StatusEvent, now = Date.now()): RunProgress {
  // A server that sends no stage: queued while queued, then "reading" until the first token.
  const fallback: RunStage = previous && previous.stage !== 'queued' ? previous.stage : 'reading'
  const stage: RunStage = event.stage ?? (event.status === 'queued' ? 'queued' : fallback)
  const since = previous && previous.stage === stage ? previous.since : now
  return { stage, progress: event.progress, position: event.position, since }
}

interface Callbacks {
  /** Something changed that the thread list should reflect (a message sent, a run finished). */
  onActivity: () => void
  /** Creates a thread (without selecting it) for a message sent while none is selected. */
  createThread: () => Promise<string>
  /** Selects a thread this hook created; its messages are then kept rather than reloaded. */
  selectThread: (threadId: string) => void
}

export interface SendOptions {
  model?: string
  collection?: string
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
  const current = useRef(messages)
  current.current = messages

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
        onStatus: (event) =>
          update(key, (m) => ({ runStatus: event.status, progress: nextProgress(m.progress, event) })),
        onSources: (sources) => update(key, () => ({ sources })),
        onToken: (delta) =>
          update(key, (m) => ({
            content: m.content + delta,
            progress: m.progress?.stage === 'generating' ? m.progress : { stage: 'generating', since: Date.now() },
          })),
        onFinal: (final) =>
          update(key, (m) => ({
            messageId: final.message_id,
            content: final.content,
            sources: final.sources ?? m.sources,
            claims: final.claims ?? undefined,
            model: final.model,
          })),
        onError: (error) => update(key, () => ({ error })),
        onDone: (status) => {
          update(key, () => ({ status: outcome(status), runStatus: status, reconnecting: false, progress: undefined }))
          finish()
        },
        onReconnecting: () => update(key, () => ({ reconnecting: true })),
        onOpen: () => update(key, () => ({ reconnecting: false })),
        onConnectionLost: (error) => {
          update(key, (m) => ({ status: 'failed', reconnecting: false, progress: undefined, error: m.error ?? error }))
          finish()
        },
      })
    },
    [update],
  )

  /** Reads the claims of finished answers back from their runs' logs (they are not in the history). */
  const loadClaims = useCallback(
    (loaded: ChatMessage[], isCurrent: () => boolean) => {
      const wanted = loaded
        .filter((m) => m.role === 'assistant' && m.runId && !m.claims && m.sources?.length && m.status === 'complete')
        .slice(-CLAIM_LOOKUPS)
      for (const m of wanted) {
        const close = openRunStream(m.runId!, {
          onFinal: (final) => {
            close()
            if (isCurrent() && final.claims?.length) update(m.key, () => ({ claims: final.claims ?? undefined }))
          },
        }, { maxRetries: 0 })
      }
    },
    [update],
  )

  /**
   * After loading history: follow a run that is still going, and give every question whose run
   * left no reply (failed, cancelled, still queued) a bubble saying what happened to it.
   */
  const resolveUnanswered = useCallback(
    async (loaded: ChatMessage[], isCurrent: () => boolean) => {
      const unanswered = loaded
        .filter((m, i) => m.role === 'user' && m.runId && loaded[i + 1]?.role !== 'assistant')
        .slice(-MAX_RUN_LOOKUPS)
      const runs = await Promise.all(unanswered.map((m) => api.getRun(m.runId!).catch(() => null)))
      if (!isCurrent()) return
      const replies = new Map<string, ChatMessage>()
      let active: ChatMessage | undefined
      runs.forEach((run: Run | null, i) => {
        if (!run || run.status === 'done') return
        const running = run.status === 'queued' || run.status === 'running'
        const reply: ChatMessage = {
          key: `run:${run.run_id}`,
          role: 'assistant',
          content: '',
          runId: run.run_id,
          runStatus: run.status,
          status: running ? 'streaming' : outcome(run.status),
          error: run.error ?? undefined,
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
        loadClaims(loaded, () => current)
        return resolveUnanswered(loaded, () => current)
      })
      .catch((err) => current && setLoadError(errorMessage(err)))
      .finally(() => current && setLoading(false))
    return () => {
      current = false
      closeStream.current?.()
      closeStream.current = null
    }
  }, [threadId, stopFollowing, resolveUnanswered, loadClaims])

  /** Posts a message and streams the answer. Throws ApiError when the server refuses it. */
  const send = useCallback(
    async (content: string, options: SendOptions = {}) => {
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
        {
          key,
          role: 'assistant',
          content: '',
          status: 'streaming',
          runId: res.run_id,
          runStatus: res.status as RunStatus,
          progress: { stage: 'queued', since: Date.now() },
        },
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

  /**
   * Replaces the last question and its answer: the server forgets them (and their run), then
   * `content` is asked in their place. Regenerate passes the same question, edit a new one.
   */
  const replaceLast = useCallback(
    async (content: string, options: SendOptions = {}) => {
      const last = current.current.findLast((m) => m.role === 'user')
      if (threadId && last) {
        await api.rewindThread(threadId, last.key)
        setMessages((all) => {
          const index = all.findIndex((m) => m.key === last.key)
          return index >= 0 ? all.slice(0, index) : all
        })
      }
      await send(content, options)
    },
    [threadId, send],
  )

  const lastQuestion = [...messages].reverse().find((m) => m.role === 'user')?.content ?? null

  return { messages, loading, loadError, activeRunId, lastQuestion, send, replaceLast, stop }
}
