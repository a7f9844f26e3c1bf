import { describe, expect, it } from 'vitest'
import { openRunStream, SeqGate, type RunHandlers } from './runStream'

class FakeEventSource {
  readyState = 1
  closed = false
  private listeners = new Map<string, ((event: Event) => void)[]>()

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: Event) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  close() {
    this.closed = true
    this.readyState = 2
  }

  emit(type: string, seq: number | null, data: unknown) {
    const event = new MessageEvent(type, {
      data: JSON.stringify(data),
      lastEventId: seq === null ? '' : String(seq),
    })
    for (const listener of this.listeners.get(type) ?? []) listener(event)
  }

  fail(readyState: number) {
    this.readyState = readyState
    for (const listener of this.listeners.get('error') ?? []) listener(new Event('error'))
  }
}

function follow(handlers: RunHandlers = {}, after = 0) {
  let source!: FakeEventSource
  const tokens: string[] = []
  openRunStream('run-1', { onToken: (d) => tokens.push(d), ...handlers }, {
    after,
    createEventSource: (url) => (source = new FakeEventSource(url)),
  })
  return { source, tokens }
}

describe('SeqGate', () => {
  it('accepts increasing seqs and rejects replayed ones', () => {
    const gate = new SeqGate()
    expect([1, 2, 2, 1, 3].map((seq) => gate.accept(String(seq)))).toEqual([true, true, false, false, true])
    expect(gate.last).toBe(3)
  })

  it('accepts events without an id', () => {
    expect(new SeqGate(5).accept('')).toBe(true)
  })
})

describe('openRunStream', () => {
  it('drops events replayed after a reconnect so tokens are not duplicated', () => {
    const { source, tokens } = follow()
    source.emit('token', 1, { delta: 'Hello' })
    source.emit('token', 2, { delta: ' world' })
    source.fail(0) // EventSource reconnects with Last-Event-ID; the server may replay
    source.emit('token', 2, { delta: ' world' })
    source.emit('token', 3, { delta: '!' })
    expect(tokens.join('')).toBe('Hello world!')
  })

  it('resumes after a given seq', () => {
    const { source, tokens } = follow({}, 2)
    expect(source.url).toBe('/api/runs/run-1/events?after=2')
    source.emit('token', 2, { delta: 'old' })
    source.emit('token', 3, { delta: 'new' })
    expect(tokens).toEqual(['new'])
  })

  it('closes on done and ignores anything after it', () => {
    const statuses: string[] = []
    const { source, tokens } = follow({ onDone: (s) => statuses.push(s) })
    source.emit('done', 1, { status: 'done' })
    source.emit('token', 2, { delta: 'late' })
    expect(source.closed).toBe(true)
    expect(statuses).toEqual(['done'])
    expect(tokens).toEqual([])
  })

  it('tells a server error event apart from a lost connection', () => {
    const errors: string[] = []
    let lost = 0
    const { source } = follow({ onError: (e) => errors.push(e.code), onConnectionLost: () => lost++ })
    source.emit('error', 1, { code: 'provider_error', message: 'boom' })
    expect(errors).toEqual(['provider_error'])
    expect(lost).toBe(0)
    source.fail(2)
    expect(lost).toBe(1)
  })
})
