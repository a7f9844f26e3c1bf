/** An answer rendered as Markdown: GFM, highlighted code, sanitised, with citations and claims. */
import { createContext, memo, useContext, useMemo, type ReactNode } from 'react'
import ReactMarkdown, { type Components } from 'react-markdown'
import rehypeHighlight from 'rehype-highlight'
import rehypeSanitize from 'rehype-sanitize'
import remarkGfm from 'remark-gfm'
import { rehypeAnswer, remarkHtmlAsText } from '../markdown/plugins'
import type { Claim } from '../types'

export interface CitationActions {
  /** Opens source `n` (1-based) of this answer. */
  open(n: number): void
  /** Hides the claims the sources do not support. */
  hideUnsupported: boolean
  /** A label for source `n` (its document), for tooltips and screen readers. */
  label(n: number): string
}

export const CitationContext = createContext<CitationActions>({
  open: () => {},
  hideUnsupported: false,
  label: (n) => `Source ${n}`,
})

function Citation({ n }: { n: number }) {
  const actions = useContext(CitationContext)
  return (
    <button
      type="button"
      data-testid="citation"
      data-cite={n}
      onClick={() => actions.open(n)}
      title={actions.label(n)}
      aria-label={`Source ${n}: ${actions.label(n)}`}
      className="mx-0.5 inline-flex min-w-[1.25rem] -translate-y-1 items-center justify-center rounded bg-indigo-50 px-1 align-baseline font-mono text-[0.7em] leading-4 font-semibold text-indigo-700 hover:bg-indigo-100 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
    >
      {n}
    </button>
  )
}

// A claim may span several text nodes, so the note for screen readers is the message's summary
// line ("2 sentences are not supported…"), not a note repeated inside every fragment.
function UnsupportedClaim({ children }: { children: ReactNode }) {
  const { hideUnsupported } = useContext(CitationContext)
  if (hideUnsupported) return null
  return (
    <span
      data-testid="unsupported-claim"
      title="Not supported by the sources"
      className="decoration-amber-600 underline decoration-dotted decoration-2 underline-offset-4"
    >
      {children}
    </span>
  )
}

const components: Components = {
  sup: ({ node: _node, ...props }) => {
    const n = Number((props as Record<string, unknown>)['data-cite'])
    return n > 0 ? <Citation n={n} /> : <sup {...props} />
  },
  span: ({ node: _node, ...props }) => {
    if ((props as Record<string, unknown>)['data-supported'] === 'false') {
      return <UnsupportedClaim>{props.children}</UnsupportedClaim>
    }
    return <span {...props} />
  },
  a: ({ node: _node, href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
  // No remote images (they would load from wherever a document or the model points): a link instead.
  img: ({ src, alt }) =>
    typeof src === 'string' && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt || src}
      </a>
    ) : (
      <>{alt}</>
    ),
  table: ({ node: _node, ...props }) => (
    <div className="overflow-x-auto">
      <table {...props} />
    </div>
  ),
}

interface Props {
  content: string
  claims?: Claim[] | null
  sourceCount: number
}

/** Markdown of one answer; memoised so that a streaming message re-renders only its own text. */
export const Markdown = memo(function Markdown({ content, claims, sourceCount }: Props) {
  const rehypePlugins = useMemo(
    () => [rehypeSanitize, [rehypeHighlight, { detect: false }], [rehypeAnswer, { content, claims, sourceCount }]] as const,
    [content, claims, sourceCount],
  )
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm, remarkHtmlAsText]}
      rehypePlugins={rehypePlugins as never}
      components={components}
    >
      {content}
    </ReactMarkdown>
  )
})
