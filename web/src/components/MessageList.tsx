import { useEffect, useRef, type ReactNode } from 'react'
import type { ChatMessage } from '../hooks/useThreadChat'
import { MessageBubble } from './MessageBubble'

const STICK_TO_BOTTOM_PX = 120

/** The conversation; follows new text while the reader is at the bottom. */
export function MessageList({ messages, children }: { messages: ChatMessage[]; children?: ReactNode }) {
  const scroller = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  const streaming = messages.some((m) => m.status === 'streaming')

  useEffect(() => {
    const el = scroller.current
    if (el && atBottom.current) el.scrollTop = el.scrollHeight
  }, [messages])

  return (
    <div
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_TO_BOTTOM_PX
      }}
      className="min-h-0 flex-1 overflow-y-auto"
    >
      <div role="log" aria-label="Conversation" aria-busy={streaming} className="mx-auto max-w-3xl space-y-4 px-4 py-6">
        {messages.map((m) => (
          <MessageBubble key={m.key} message={m} />
        ))}
        {children}
      </div>
    </div>
  )
}
