import type { ReactNode } from 'react'
import type { Source } from '../types'

const CITATION = /(\[\d+\])/

/** Plain text with preserved whitespace; `[n]` markers that match a source become small badges. */
export function MessageText({ text, sources, after }: { text: string; sources?: Source[]; after?: ReactNode }) {
  const parts = text.split(CITATION)
  return (
    <div data-testid="message-text" className="break-words whitespace-pre-wrap">
      {parts.map((part, i) => {
        const n = i % 2 === 1 ? Number(part.slice(1, -1)) : 0
        const source = n > 0 ? sources?.[n - 1] : undefined
        if (!source) return part
        return (
          <sup
            key={i}
            title={source.source}
            className="mx-0.5 rounded bg-indigo-50 px-1 font-mono text-[0.7em] font-semibold text-indigo-600"
          >
            {n}
          </sup>
        )
      })}
      {after}
    </div>
  )
}
