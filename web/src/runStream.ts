/**
 * Follows one run's event log over SSE with fetch, so the API key travels in a header.
 *
 * When the connection drops before `done`, it reconnects with `Last-Event-ID: <last seq>` and the
 * server replays from there. Every event whose seq is not above the last one seen is dropped, so
 * token deltas are never appended twice.
 */
import { api, ApiError, toApiError } from './api'
import { authHeaders, reportUnauthorized } from './auth'
import { SseParser } from './sse'
import type { FinalEvent, RunError, RunStatus, Source, StatusEvent } from './types'

export interface RunHandlers {
  onStatus?(status: StatusEvent): void
  onSources?(sources: Source[]): void
  onToken?(delta: string): void
  onFinal?(final: FinalEvent): void
  onError?(error: RunError): void
  onDone?(status: RunStatus): void
  /** No more events will come (the server refused the stream, or retries ran out). */
  onConnectionLost?(error: RunError): void
  /** The connection dropped; `onOpen` follows when it is back. */
  onReconnecting?(): void
  onOpen?(): void
}

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

export interface StreamOptions {
  after?: number
  fetch?: typeof fetch
  /** Reconnection attempts in a row without any new event before giving up. */
  maxRetries?: number
  /** Delay before the n-th reconnection (ms). */
  retryDelay?: (attempt: number) => number
}

const defaultDelay = (attempt: number) => Math.min(500 * 2 ** attempt, 5_000)

/** Opens the stream and returns a function that closes it. */
export function openRunStream(runId: string, handlers: RunHandlers, options: StreamOptions = {}): () => void {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const maxRetries = options.maxRetries ?? 8
  const delay = options.retryDelay ?? defaultDelay
  const gate = new SeqGate(options.after ?? 0)
  const abort = new AbortController()
  let finished = false

  const finish = () => {
    finished = true
    abort.abort()
  }

  const dispatch = (type: string, data: any): void => {
    switch (type) {
      case 'status':
        handlers.onStatus?.(data as StatusEvent)
        break
      case 'sources':
        handlers.onSources?.(data.sources ?? [])
        break
      case 'token':
        handlers.onToken?.(data.delta ?? '')
        break
      case 'final':
        handlers.onFinal?.(data as FinalEvent)
        break
      case 'error':
        handlers.onError?.({ code: data.code ?? 'error', message: data.message ?? 'The run failed.' })
        break
      case 'done':
        finish()
        handlers.onDone?.(data.status)
        break
    }
  }

  /** One connection; resolves true when it saw at least one new event. */
  const connect = async (): Promise<boolean> => {
    const headers = authHeaders(new Headers({ Accept: 'text/event-stream' }))
    if (gate.last > 0) headers.set('Last-Event-ID', String(gate.last))
    const res = await doFetch(api.runEventsPath(runId), { headers, signal: abort.signal, cache: 'no-store' })
    if (!res.ok) throw await toApiError(res)
    if (!res.body) throw new ApiError(0, 'stream_unsupported', 'This browser cannot read streams.')
    handlers.onOpen?.()
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    const parser = new SseParser()
    let progressed = false
    try {
      while (!finished) {
        const { value, done } = await reader.read()
        if (done) break
        for (const message of parser.push(value)) {
          if (finished) break
          if (!gate.accept(message.id)) continue
          progressed = true
          let data: unknown
          try {
            data = JSON.parse(message.data)
          } catch {
            continue
          }
          dispatch(message.event, data ?? {})
        }
      }
    } finally {
      reader.cancel().catch(() => {})
    }
    return progressed
  }

  const run = async () => {
    let failures = 0
    while (!finished) {
      try {
        if (await connect()) failures = 0
        else failures++
      } catch (err) {
        if (finished) return
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          if (err.status === 401) reportUnauthorized()
          finished = true
          handlers.onConnectionLost?.({ code: err.code, message: err.message })
          return
        }
        failures++
      }
      if (finished) return
      if (failures > maxRetries) {
        finished = true
        handlers.onConnectionLost?.({ code: 'stream_lost', message: 'Lost the connection to the answer stream.' })
        return
      }
      handlers.onReconnecting?.()
      await new Promise((resolve) => setTimeout(resolve, delay(failures)))
    }
  }

  void run()
  return finish
}
