import { afterEach, describe, expect, it, vi } from 'vitest'
import { openRunStream, SeqGate, type RunHandlers } from './runStream'
import { SseParser } from './sse'

/** A fake server: each call answers the next scripted body (a list of chunks) and records headers. */
function fakeFetch(bodies: (string[] | number)[]) {
  const calls: { url: string; headers: Headers }[] = []
  const impl = async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) })
    const body = bodies.shift()
    if (body === undefined) return new Promise<Response>(() => {}) // hang: nothing more to say
    if (typeof body === 'number') {
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'invalid API key' } }), {
        status: body,
        headers: { 'content-type': 'application/json' },
      })
    }
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of body) controller.enqueue(new TextEncoder().encode(chunk))
        controller.close()
      },
    })
    return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
  }
  return { calls, impl: impl as typeof fetch }
}

const frame = (seq: number, type: string, data: unknown) => `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`

function follow(bodies: (string[] | number)[], handlers: RunHandlers = {}) {
  const server = fakeFetch(bodies)
  const tokens: string[] = []
  let resolveDone!: (status: string) => void
  const done = new Promise<string>((resolve) => (resolveDone = resolve))
  const close = openRunStream(
    'run-1',
    {
      onToken: (d) => tokens.push(d),
      onDone: (s) => resolveDone(s),
      onConnectionLost: (e) => resolveDone(`lost:${e.code}`),
      ...handlers,
    },
    { fetch: server.impl, retryDelay: () => 0, maxRetries: 3 },
  )
  return { server, tokens, done, close }
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('SeqGate', () => {
  it('accepts increasing seqs and rejects replayed ones', () => {
    const gate = new SeqGate()
    expect([1, 2, 2, 1, 3].map((seq) => gate.accept(String(seq)))).toEqual([true, true, false, false, true])
    expect(gate.last).toBe(3)
  })
})

describe('SseParser', () => {
  it('parses frames split anywhere, multi-line data, comments and CRLF', () => {
    const parser = new SseParser()
    const text = ': ping\r\nid: 7\r\nevent: token\r\ndata: {"delta":\r\ndata: "a"}\r\n\r\nid: 8\ndata: x\n\n'
    const out = [...text].flatMap((ch) => parser.push(ch))
    expect(out).toEqual([
      { event: 'token', data: '{"delta":\n"a"}', id: '7' },
      { event: 'message', data: 'x', id: '8' },
    ])
  })
})

describe('openRunStream', () => {
  it('streams events in order and stops at done', async () => {
    const statuses: unknown[] = []
    const { tokens, done, server } = follow(
      [[frame(1, 'status', { status: 'running', stage: 'reading', progress: 0.4 }), frame(2, 'token', { delta: 'Hel' }), frame(3, 'token', { delta: 'lo' }), frame(4, 'done', { status: 'done' })]],
      { onStatus: (s) => statuses.push(s) },
    )
    expect(await done).toBe('done')
    expect(tokens.join('')).toBe('Hello')
    expect(statuses).toEqual([{ status: 'running', stage: 'reading', progress: 0.4 }])
    expect(server.calls).toHaveLength(1)
    expect(server.calls[0].url).toBe('/api/runs/run-1/events')
  })

  it('reconnects with Last-Event-ID after a drop and drops replayed events', async () => {
    const { tokens, done, server } = follow([
      [frame(1, 'token', { delta: 'Hello' }), frame(2, 'token', { delta: ' wor' }).slice(0, 20)], // cut mid-frame
      [frame(2, 'token', { delta: ' world' }), frame(3, 'token', { delta: '!' }), frame(4, 'done', { status: 'done' })],
    ])
    expect(await done).toBe('done')
    expect(tokens.join('')).toBe('Hello world!')
    expect(server.calls[1].headers.get('Last-Event-ID')).toBe('1')
  })

  it('sends the API key in a header, never in the URL', async () => {
    vi.stubGlobal('sessionStorage', { getItem: () => 'sk-secret', setItem() {}, removeItem() {} })
    const { done, server } = follow([[frame(1, 'done', { status: 'done' })]])
    await done
    expect(server.calls[0].headers.get('Authorization')).toBe('Bearer sk-secret')
    expect(server.calls[0].url).not.toContain('sk-secret')
  })

  it('gives up on a 401 and says why', async () => {
    const { done } = follow([401])
    expect(await done).toBe('lost:unauthorized')
  })

  it('tells a server error event apart from a lost connection', async () => {
    const errors: string[] = []
    const { done } = follow(
      [[frame(1, 'error', { code: 'provider_error', message: 'boom' }), frame(2, 'done', { status: 'failed' })]],
      { onError: (e) => errors.push(e.code) },
    )
    expect(await done).toBe('failed')
    expect(errors).toEqual(['provider_error'])
  })

  it('gives up after repeated drops without progress', async () => {
    const { done } = follow([[], [], [], [], []])
    expect(await done).toBe('lost:stream_lost')
  })
})
