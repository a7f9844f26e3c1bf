import { useEffect, useRef, useState } from 'react'
import { errorMessage } from '../api'
import type { Source } from '../types'
import { DocumentViewer, viewerKind } from './viewer/DocumentViewer'
import { useDocumentFile } from './viewer/useDocumentFile'

interface Props {
  source: Source
  n: number
  onClose(): void
}

/** An object URL for a fetched file, with `#page=N` for PDFs (the browser's viewer opens there). */
export function fileUrl(objectUrl: string, type: string, page: number | null | undefined): string {
  return type.includes('pdf') && page != null ? `${objectUrl}#page=${page}` : objectUrl
}

const TEXT_TYPES = ['text/html', 'text/markdown', 'text/plain']
/** How long an opened file's object URL outlives the panel (the new tab may still be loading it). */
const REVOKE_AFTER_MS = 60_000

/**
 * How a fetched original may be shown. An object URL has this app's origin and none of the
 * server's sandbox headers, so only a PDF opens as itself (in the browser's viewer); HTML,
 * Markdown and text open as plain text (an uploaded page never runs here); others download.
 */
export function viewable(blob: Blob): { blob: Blob; open: boolean } {
  const type = blob.type.split(';')[0].trim().toLowerCase()
  if (type === 'application/pdf') return { blob, open: true }
  if (TEXT_TYPES.includes(type)) return { blob: new Blob([blob], { type: 'text/plain;charset=utf-8' }), open: true }
  return { blob, open: false }
}

/**
 * The passage behind citation [n]: its document and page, the original opened there with the
 * passage highlighted (a PDF page through pdf.js; HTML, Markdown and text scrolled to it), and
 * the original in a new tab.
 */
export function PassagePanel({ source, n, onClose }: Props) {
  const original = useDocumentFile(source.document_id)
  const [opening, setOpening] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [fallback, setFallback] = useState<string | null>(null)
  const urls = useRef(new Map<string, { url: string; type: string; open: boolean }>())
  const closeButton = useRef<HTMLButtonElement>(null)

  useEffect(() => {
    closeButton.current?.focus()
    setError(null)
    setFallback(null)
  }, [source, n])

  useEffect(() => {
    const cache = urls.current
    return () => {
      const opened = [...cache.values()]
      cache.clear()
      setTimeout(() => opened.forEach(({ url }) => URL.revokeObjectURL(url)), REVOKE_AFTER_MS)
    }
  }, [])

  const viewing = Boolean(source.document_id && (!original.file || viewerKind(original.file.type)))

  const openFile = async () => {
    if (!source.document_id) return
    setOpening(true)
    setError(null)
    try {
      let file = urls.current.get(source.document_id)
      if (!file) {
        const shown = viewable(await original.fetch(source.document_id))
        file = { url: URL.createObjectURL(shown.blob), type: shown.blob.type, open: shown.open }
        urls.current.set(source.document_id, file)
      }
      if (!file.open) {
        const link = document.createElement('a')
        link.href = file.url
        link.download = source.source.split('/').pop() || 'document'
        link.click()
        return
      }
      const href = fileUrl(file.url, file.type, source.page)
      const opened = window.open(href, '_blank')
      setFallback(opened ? null : href)
    } catch (err) {
      setError(errorMessage(err))
    } finally {
      setOpening(false)
    }
  }

  return (
    <aside
      aria-label={`Source ${n}`}
      data-testid="passage-panel"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose()
      }}
      className="flex h-full flex-col bg-white"
    >
      <header className="flex items-center justify-between gap-2 border-b border-slate-200 px-4 py-3">
        <h2 className="font-semibold text-slate-800">
          Source <span className="font-mono text-indigo-700">[{n}]</span>
        </h2>
        <button
          ref={closeButton}
          type="button"
          onClick={onClose}
          aria-label="Close source"
          className="rounded-md p-1.5 text-slate-600 hover:bg-slate-100 hover:text-slate-900 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
        >
          <svg viewBox="0 0 20 20" fill="currentColor" className="size-5" aria-hidden="true">
            <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 1 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
          </svg>
        </button>
      </header>
      <div className={`space-y-3 px-4 py-3 ${viewing ? 'shrink-0' : 'min-h-0 flex-1 overflow-y-auto'}`}>
        <div>
          <p className="font-medium break-words text-slate-800" data-testid="passage-title">
            {source.title || source.source}
          </p>
          {source.title && source.title !== source.source && (
            <p className="text-xs break-all text-slate-600">{source.source}</p>
          )}
          <p className="mt-1 text-xs text-slate-600">
            {source.page != null ? `Page ${source.page}` : 'No page number'}
            {source.score != null && ` · relevance ${source.score.toFixed(3)}`}
          </p>
        </div>
        {source.document_id && (
          <div className="flex flex-wrap items-center gap-2">
            <button
              type="button"
              data-testid="open-original"
              onClick={() => void openFile()}
              disabled={opening}
              className="h-8 rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none disabled:opacity-60"
            >
              {opening
                ? 'Opening…'
                : /\.docx$/i.test(source.source)
                  ? 'Download the original'
                  : source.page != null
                    ? `Open the original at page ${source.page}`
                    : 'Open the original'}
            </button>
            {fallback && (
              <a href={fallback} target="_blank" rel="noopener" className="text-sm text-indigo-700 underline">
                The browser blocked the new tab: open it here
              </a>
            )}
          </div>
        )}
        {error && (
          <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
            {error}
          </p>
        )}
        <blockquote
          data-testid="passage-text"
          tabIndex={0}
          aria-label="The cited passage"
          className={`overflow-y-auto rounded-lg border-l-4 border-indigo-300 bg-slate-50 px-3 py-2 text-sm leading-relaxed whitespace-pre-wrap text-slate-800 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none ${
            viewing ? 'max-h-28' : ''
          }`}
        >
          {source.text || 'The passage text is not available.'}
        </blockquote>
      </div>
      {source.document_id && (
        <section aria-label="The original document" className="flex min-h-0 flex-1 flex-col border-t border-slate-200" data-testid="document-viewer">
          {original.error ? (
            <p role="alert" className="m-3 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
              The original could not be opened: {original.error}
            </p>
          ) : original.file ? (
            <DocumentViewer file={original.file} page={source.page} passage={source.text ?? ''} />
          ) : (
            <p className="p-3 text-sm text-slate-600">Opening the original…</p>
          )}
        </section>
      )}
    </aside>
  )
}
