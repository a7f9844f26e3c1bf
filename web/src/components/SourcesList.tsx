import type { Source } from '../types'

const SNIPPET_CHARS = 280

function snippet(text: string | undefined): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim()
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS).trimEnd()}…` : flat
}

/** The numbered sources an answer was grounded on: [1], [2], ... */
export function SourcesList({ sources }: { sources: Source[] }) {
  if (sources.length === 0) return null
  return (
    <section aria-label="Sources" className="mt-3 border-t border-slate-100 pt-3">
      <h3 className="mb-2 text-xs font-semibold tracking-wide text-slate-500 uppercase">Sources</h3>
      <ol data-testid="sources" className="space-y-2">
        {sources.map((source, i) => (
          <li key={`${source.chunk_id ?? i}-${i}`} className="flex gap-2 text-sm">
            <span className="shrink-0 font-mono text-xs leading-5 font-semibold text-indigo-600">[{i + 1}]</span>
            <div className="min-w-0">
              <p className="truncate font-medium text-slate-700" title={source.source}>
                {source.title && source.title !== source.source ? `${source.title} · ` : ''}
                <span className="font-normal text-slate-500">{source.source}</span>
                {source.page != null && <span className="font-normal text-slate-500">, p. {source.page}</span>}
              </p>
              {source.text && <p className="mt-0.5 line-clamp-3 text-xs text-slate-500">{snippet(source.text)}</p>}
            </div>
          </li>
        ))}
      </ol>
    </section>
  )
}
