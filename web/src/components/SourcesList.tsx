import type { Source } from '../types'

const SNIPPET_CHARS = 200

function snippet(text: string | undefined): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim()
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS).trimEnd()}…` : flat
}

interface Props {
  sources: Source[]
  selected: number | null
  onOpen(n: number): void
}

/** The numbered sources an answer was grounded on: [1], [2], ...; each opens its passage. */
export function SourcesList({ sources, selected, onOpen }: Props) {
  if (sources.length === 0) return null
  return (
    <section aria-label="Sources" className="mt-3 border-t border-slate-100 pt-3">
      <h3 className="mb-1.5 text-xs font-semibold tracking-wide text-slate-600 uppercase">Sources</h3>
      <ol data-testid="sources" className="space-y-1">
        {sources.map((source, i) => (
          <li key={`${source.chunk_id ?? i}-${i}`}>
            <button
              type="button"
              data-testid="source-item"
              onClick={() => onOpen(i + 1)}
              aria-pressed={selected === i + 1}
              className={`flex w-full gap-2 rounded-lg px-2 py-1.5 text-left text-sm hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none ${
                selected === i + 1 ? 'bg-indigo-50' : ''
              }`}
            >
              <span className="shrink-0 font-mono text-xs leading-5 font-semibold text-indigo-700">[{i + 1}]</span>
              <span className="min-w-0">
                <span className="block truncate font-medium text-slate-800" title={source.source}>
                  {source.title && source.title !== source.source ? `${source.title} · ` : ''}
                  <span className="font-normal text-slate-600">{source.source}</span>
                  {source.page != null && <span className="font-normal text-slate-600">, p. {source.page}</span>}
                </span>
                {source.text && <span className="mt-0.5 line-clamp-2 block text-xs text-slate-600">{snippet(source.text)}</span>}
              </span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  )
}
