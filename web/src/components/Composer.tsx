import { useEffect, useRef, useState, type ReactNode } from 'react'

interface Props {
  streaming: boolean
  onSend(content: string): Promise<boolean>
  onStop(): void
  focusKey?: string | null
  /** Controls shown under the input (model and collection pickers). */
  toolbar?: ReactNode
  /** Text to put into the box (edit and resend); a new `nonce` puts it again. */
  draft?: { text: string; nonce: number } | null
}

const MAX_HEIGHT_PX = 200

/** Message box: Enter sends, Shift+Enter adds a line; Stop replaces Send while an answer streams. */
export function Composer({ streaming, onSend, onStop, focusKey, toolbar, draft }: Props) {
  const [text, setText] = useState('')
  const [sending, setSending] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)

  useEffect(() => input.current?.focus(), [focusKey])

  useEffect(() => {
    if (!draft) return
    setText(draft.text)
    input.current?.focus()
  }, [draft])

  useEffect(() => {
    const el = input.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`
  }, [text])

  const canSend = text.trim().length > 0 && !sending && !streaming

  const submit = async () => {
    if (!canSend) return
    setSending(true)
    try {
      if (await onSend(text.trim())) setText('')
    } finally {
      setSending(false)
      input.current?.focus()
    }
  }

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
      className="border-t border-slate-200 bg-white px-4 py-3"
    >
      <div className="mx-auto flex max-w-3xl items-end gap-2 rounded-2xl border border-slate-300 bg-white p-2 shadow-sm focus-within:border-indigo-400 focus-within:ring-2 focus-within:ring-indigo-100">
        <label htmlFor="chat-input" className="sr-only">
          Message
        </label>
        <textarea
          id="chat-input"
          ref={input}
          data-testid="chat-input"
          rows={1}
          value={text}
          placeholder="Ask about your documents…"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault()
              void submit()
            }
          }}
          className="max-h-[200px] min-h-10 flex-1 resize-none bg-transparent px-2 py-2 text-slate-800 outline-none placeholder:text-slate-500"
        />
        {streaming ? (
          <button
            type="button"
            data-testid="stop"
            onClick={onStop}
            className="inline-flex h-10 items-center gap-1.5 rounded-xl bg-slate-800 px-4 text-sm font-medium text-white hover:bg-slate-700 focus-visible:ring-2 focus-visible:ring-slate-400 focus-visible:outline-none"
          >
            <span className="size-2.5 rounded-sm bg-white" aria-hidden />
            Stop
          </button>
        ) : (
          <button
            type="submit"
            data-testid="send"
            disabled={!canSend}
            className="h-10 rounded-xl bg-indigo-600 px-4 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:outline-none disabled:cursor-not-allowed disabled:bg-slate-300"
          >
            {sending ? 'Sending…' : 'Send'}
          </button>
        )}
      </div>
      <div className="mx-auto mt-2 flex max-w-3xl flex-wrap items-center gap-x-4 gap-y-2 px-1">
        {toolbar}
        <p className="ml-auto hidden text-[11px] text-slate-500 sm:block">Enter to send · Shift+Enter for a new line</p>
      </div>
    </form>
  )
}
