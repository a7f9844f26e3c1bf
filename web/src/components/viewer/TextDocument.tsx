/**
 * An HTML, Markdown or text original shown inside the app, scrolled to the cited passage with
 * the passage highlighted. Nothing in the file runs or loads: Markdown is sanitised with raw
 * HTML shown as text, an HTML page is reduced to its text, plain text stays text.
 */
import { memo, useEffect, useRef, useState } from 'react'
import ReactMarkdown, { type Components } from 'react-markdown'
import rehypeSanitize from 'rehype-sanitize'
import remarkGfm from 'remark-gfm'
import { clearMarks, markRanges, textNodes } from '../../highlight/mark'
import { findPassage } from '../../highlight/match'
import { remarkHtmlAsText } from '../../markdown/plugins'
import { HighlightNote, type HighlightState } from './HighlightNote'
import { htmlBlocks } from './htmlText'

export type TextKind = 'html' | 'markdown' | 'text'

const markdownComponents: Components = {
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
  img: ({ alt }) => <>{alt}</>,
}

const BLOCK_CLASS = {
  heading: 'font-semibold text-slate-900',
  paragraph: '',
  item: "pl-4 before:-ml-3 before:pr-1.5 before:content-['•']",
  code: 'overflow-x-auto rounded bg-slate-50 p-2 font-mono text-xs whitespace-pre',
}

/** The document's text, rendered once per file (the highlight is added to its DOM afterwards). */
const Body = memo(function Body({ kind, text }: { kind: TextKind; text: string }) {
  if (kind === 'markdown') {
    return (
      <div className="markdown text-sm">
        <ReactMarkdown remarkPlugins={[remarkGfm, remarkHtmlAsText]} rehypePlugins={[rehypeSanitize]} components={markdownComponents}>
          {text}
        </ReactMarkdown>
      </div>
    )
  }
  if (kind === 'html') {
    return (
      <div className="space-y-2 text-sm leading-relaxed">
        {htmlBlocks(text).map((block, i) => (
          <p key={i} className={BLOCK_CLASS[block.kind]}>
            {block.text}
          </p>
        ))}
      </div>
    )
  }
  return <pre className="font-mono text-xs leading-relaxed break-words whitespace-pre-wrap">{text}</pre>
})

interface Props {
  kind: TextKind
  text: string
  passage: string
}

export function TextDocument({ kind, text, passage }: Props) {
  const body = useRef<HTMLDivElement>(null)
  const [highlight, setHighlight] = useState<HighlightState>('pending')

  useEffect(() => {
    const root = body.current
    if (!root) return
    clearMarks(root)
    const nodes = textNodes(root)
    const match = findPassage(
      nodes.map((n) => n.data),
      passage,
    )
    const marks = markRanges(nodes, match.ranges)
    setHighlight(marks.length === 0 ? 'missing' : match.coverage < 0.9 ? 'partial' : 'found')
    marks[0]?.scrollIntoView({ block: 'center', inline: 'nearest' })
    return () => clearMarks(root)
  }, [kind, text, passage])

  return (
    <div className="flex min-h-0 flex-1 flex-col" data-testid="text-viewer">
      <HighlightNote state={highlight} />
      <div
        tabIndex={0}
        aria-label="The document"
        className="min-h-0 flex-1 overflow-auto border-t border-slate-200 px-4 py-3 text-slate-800 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none focus-visible:ring-inset"
        data-testid="viewer-scroll"
      >
        <div ref={body}>
          <Body kind={kind} text={text} />
        </div>
      </div>
    </div>
  )
}
