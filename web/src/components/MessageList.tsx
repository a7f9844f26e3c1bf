import { useEffect, useRef, type ReactNode } from 'react'
import type { ChatMessage } from '../hooks/useThreadChat'
import { MessageBubble } from './MessageBubble'

const STICK_TO_BOTTOM_PX = 120

interface Props {
  messages: ChatMessage[]
  children?: ReactNode
  onOpenSource(message: ChatMessage, n: number): void
  hideUnsupported: boolean
  /** The open passage: which message and which source. */
  selected: { key: string; n: number } | null
  /** Offered on the last answer and the last question while nothing streams. */
  onRegenerate?: () => void
  onEdit?: () => void
  /** Offered on earlier questions: edit one in a new branch. */
  onBranch?: (message: ChatMessage) => void
}

/** The conversation; follows new text while the reader is at the bottom. */
export function MessageList({ messages, children, onOpenSource, hideUnsupported, selected, onRegenerate, onEdit, onBranch }: Props) {
  const scroller = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  const streaming = messages.some((m) => m.status === 'streaming')
  const lastUser = messages.findLastIndex((m) => m.role === 'user')
  const lastAnswer = messages.findLastIndex((m) => m.role === 'assistant')

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
      <div role="log" aria-label="Conversation" aria-busy={streaming} className="mx-auto max-w-3xl space-y-4 px-3 py-6 sm:px-4">
        {messages.map((m, i) => (
          <MessageBubble
            key={m.key}
            message={m}
            onOpenSource={onOpenSource}
            hideUnsupported={hideUnsupported}
            selectedSource={selected?.key === m.key ? selected.n : null}
            onRegenerate={!streaming && i === lastAnswer && i > lastUser ? onRegenerate : undefined}
            onEdit={!streaming && i === lastUser ? onEdit : undefined}
            onBranch={onBranch && !streaming && m.role === 'user' && i < lastUser ? onBranch : undefined}
          />
        ))}
        {children}
      </div>
    </div>
  )
}
