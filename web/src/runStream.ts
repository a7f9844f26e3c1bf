/**
 * Follows one run's event log over SSE.
 *
 * EventSource reconnects by itself with `Last-Event-ID` and the server replays from there, so an
 * event may arrive twice around a reconnect: every event whose seq is not above the last one seen
 * is dropped, which keeps token deltas from being appended twice.
 */
import { api } from './api'
import type { FinalEvent, RunError, RunStatus, Source } from './types'

export interface RunHandlers {
  onStatus?(status: RunStatus): void
  onSources?(sources: Source[]): void
  onToken?(delta: string): void
  onFinal?(final: FinalEvent): void
  onError?(error: RunError): void
  onDone?(status: RunStatus): void
  /** The browser gave up on the stream (e.g. the server answered 404): no more events will come. */
  onConnectionLost?(): void
  /** The connection dropped and EventSource is retrying; `onOpen` follows when it is back. */
  onReconnecting?(): void
  onOpen?(): void
}

export interface EventSourceLike {
  readonly readyState: number
  addEventListener(type: string, listener: (event: Event) => void): void
  close(): void
}
export type EventSourceFactory = (url: string) => EventSourceLike

/** Remembers the highest seq seen and says whether an event is new. */
export class SeqGate {
  last: number

  constructor(after = 0) {
    this.last = after
  }

  /** True for an event not seen before; events without a numeric id are always accepted. */
  accept(lastEventId: string): boolean {
    const seq = Number.parseInt(lastEventId, 10)
    if (!Number.isFinite(seq)) return true
    if (seq <= this.last) return false
    this.last = seq
    return true
  }
}

const CLOSED = 2
const EVENT_TYPES = ['status', 'sources', 'token', 'final', 'done'] as const

/** Opens the stream and returns a function that closes it. */
export function openRunStream(
  runId: string,
  handlers: RunHandlers,
  options: { after?: number; createEventSource?: EventSourceFactory } = {},
): () => void {
  const create = options.createEventSource ?? ((url: string) => new EventSource(url))
  const gate = new SeqGate(options.after ?? 0)
  const source = create(api.runEventsUrl(runId, options.after ?? 0))
  let closed = false
  const close = () => {
    closed = true
    source.close()
  }

  const dispatch = (type: string, data: any) => {
    switch (type) {
      case 'status':
        handlers.onStatus?.(data.status)
        break
      case 'sources':
        handlers.onSources?.(data.sources ?? [])
        break
      case 'token':
        handlers.onToken?.(data.delta ?? '')
        break
      case 'final':
        handlers.onFinal?.(data)
        break
      case 'error':
        handlers.onError?.({ code: data.code ?? 'error', message: data.message ?? 'The run failed.' })
        break
      case 'done':
        close()
        handlers.onDone?.(data.status)
        break
    }
  }

  const onMessage = (type: string) => (event: Event) => {
    if (closed) return
    const message = event as MessageEvent<string>
    if (!gate.accept(message.lastEventId)) return
    let data: unknown
    try {
      data = JSON.parse(message.data)
    } catch {
      return
    }
    dispatch(type, data ?? {})
  }

  for (const type of EVENT_TYPES) source.addEventListener(type, onMessage(type))

  // "error" is both the server's `event: error` frame (a MessageEvent with data) and
  // EventSource's own signal that the connection failed (a plain Event).
  const onServerError = onMessage('error')
  source.addEventListener('error', (event: Event) => {
    if (closed) return
    if (typeof (event as MessageEvent).data === 'string') return onServerError(event)
    if (source.readyState === CLOSED) {
      closed = true
      handlers.onConnectionLost?.()
    } else {
      handlers.onReconnecting?.()
    }
  })
  source.addEventListener('open', () => {
    if (!closed) handlers.onOpen?.()
  })

  return close
}
