/** An incremental parser for `text/event-stream` (the WHATWG rules), fed decoded text chunks. */

export interface SseMessage {
  /** The `event:` field, `message` when absent. */
  event: string
  data: string
  /** The `id:` field of this event ('' when none was ever given). */
  id: string
}

export class SseParser {
  private buffer = ''
  private event = ''
  private data: string[] = []
  private hasData = false
  private lastId = ''

  /** Feeds a chunk of text; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk
    const out: SseMessage[] = []
    // A trailing '\r' may be the first half of '\r\n': keep it until the next chunk.
    const lines = this.buffer.split(/\r\n|\r(?!$)|\n/)
    this.buffer = lines.pop() ?? ''
    for (const line of lines) {
      const message = this.line(line)
      if (message) out.push(message)
    }
    return out
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      if (!this.hasData) {
        this.event = ''
        return null
      }
      const message = { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId }
      this.event = ''
      this.data = []
      this.hasData = false
      return message
    }
    if (line.startsWith(':')) return null // a comment (keep-alive ping)
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') {
      this.data.push(value)
      this.hasData = true
    } else if (field === 'id' && !value.includes('\0')) this.lastId = value
    return null
  }
}
