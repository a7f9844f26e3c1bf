/**
 * A PDF shown a page at a time by pdf.js (bundled with its worker and resources: nothing is
 * fetched from elsewhere), opened at the cited page with the passage marked in its text layer.
 * Loaded on demand (React.lazy), so the chat does not carry pdf.js.
 */
import {
  getDocument,
  GlobalWorkerOptions,
  TextLayer,
  type PDFDocumentLoadingTask,
  type PDFDocumentProxy,
  type RenderTask,
} from 'pdfjs-dist'
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url'
import { useEffect, useRef, useState } from 'react'
import { markRanges } from '../../highlight/mark'
import { findPassage } from '../../highlight/match'
import { errorMessage } from '../../api'
import type { HighlightState } from './HighlightNote'
import { HighlightNote } from './HighlightNote'
import './pdf.css'

GlobalWorkerOptions.workerSrc = workerUrl

/** Standard fonts, CMaps, ICC profiles and decoders, emitted beside the worker by vite.config.ts. */
function resources(dir: string): string {
  const base = import.meta.env.DEV
    ? new URL('/node_modules/pdfjs-dist/', window.location.href)
    : new URL('pdfjs/', new URL(workerUrl, window.location.href))
  return new URL(`${dir}/`, base).href
}

interface Props {
  data: Blob
  /** The cited page (1-based); the first when the source names none. */
  page: number | null | undefined
  passage: string
}

const buttonClass =
  'h-8 rounded-md border border-slate-300 bg-white px-2.5 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none disabled:opacity-50'

export default function PdfPage({ data, page, passage }: Props) {
  const [pdf, setPdf] = useState<PDFDocumentProxy | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [shown, setShown] = useState(page ?? 1)
  const [cited, setCited] = useState(page)
  const [width, setWidth] = useState(0)
  const [highlight, setHighlight] = useState<HighlightState>('pending')
  const frame = useRef<HTMLDivElement>(null)
  const pageBox = useRef<HTMLDivElement>(null)
  const canvas = useRef<HTMLCanvasElement>(null)
  const textLayer = useRef<HTMLDivElement>(null)

  if (cited !== page) {
    setCited(page)
    setShown(page ?? 1)
  }

  useEffect(() => {
    let task: PDFDocumentLoadingTask | null = null
    let live = true
    setPdf(null)
    setError(null)
    void data
      .arrayBuffer()
      .then((bytes) => {
        if (!live) return null
        task = getDocument({
          data: new Uint8Array(bytes),
          enableXfa: false,
          // Fonts a PDF names but does not embed come from the bundled standard fonts, the same
          // on every machine, rather than from whatever the system has.
          useSystemFonts: false,
          standardFontDataUrl: resources('standard_fonts'),
          cMapUrl: resources('cmaps'),
          iccUrl: resources('iccs'),
          wasmUrl: resources('wasm'),
        })
        return task.promise
      })
      .then((doc) => {
        if (live && doc) setPdf(doc)
      })
      .catch((err: unknown) => {
        if (live) setError(`The PDF could not be shown: ${errorMessage(err)}`)
      })
    return () => {
      live = false
      void task?.destroy()
    }
  }, [data])

  useEffect(() => {
    const el = frame.current
    if (!el) return
    const observer = new ResizeObserver(([entry]) => {
      const next = Math.floor(entry.contentRect.width)
      setWidth((old) => (Math.abs(old - next) > 8 ? next : old))
    })
    observer.observe(el)
    return () => observer.disconnect()
  }, [])

  const pageCount = pdf?.numPages ?? 0
  const pageNumber = pageCount ? Math.min(Math.max(1, shown), pageCount) : shown

  useEffect(() => {
    if (!pdf || width <= 0 || !canvas.current || !textLayer.current || !pageBox.current) return
    const target = canvas.current
    const layer = textLayer.current
    const box = pageBox.current
    let live = true
    let render: RenderTask | null = null
    let text: TextLayer | null = null
    setHighlight('pending')
    void (async () => {
      const pdfPage = await pdf.getPage(pageNumber)
      if (!live) return
      const scale = width / pdfPage.getViewport({ scale: 1 }).width
      const viewport = pdfPage.getViewport({ scale })
      const ratio = window.devicePixelRatio || 1
      target.width = Math.floor(viewport.width * ratio)
      target.height = Math.floor(viewport.height * ratio)
      target.style.width = `${Math.floor(viewport.width)}px`
      target.style.height = `${Math.floor(viewport.height)}px`
      box.style.setProperty('--total-scale-factor', String(scale))
      box.style.width = `${Math.floor(viewport.width)}px`
      layer.replaceChildren()
      render = pdfPage.render({
        canvas: target,
        viewport,
        transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0],
      })
      text = new TextLayer({ textContentSource: pdfPage.streamTextContent(), container: layer, viewport })
      await text.render()
      if (!live) return
      const runs = text.textDivs.map((div) => div.firstChild).filter((n): n is Text => n instanceof Text)
      const match = findPassage(
        runs.map((n) => n.data),
        passage,
      )
      const marks = markRanges(runs, match.ranges)
      setHighlight(marks.length === 0 ? 'missing' : match.coverage < 0.9 ? 'partial' : 'found')
      marks[0]?.scrollIntoView({ block: 'center', inline: 'nearest' })
      await render.promise
    })().catch((err: unknown) => {
      if (!live || (err instanceof Error && err.name === 'RenderingCancelledException')) return
      setError(`Page ${pageNumber} could not be drawn: ${errorMessage(err)}`)
    })
    return () => {
      live = false
      render?.cancel()
      text?.cancel()
    }
  }, [pdf, pageNumber, width, passage])

  return (
    <div className="flex min-h-0 flex-1 flex-col" data-testid="pdf-viewer">
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 px-3 py-2">
        <button
          type="button"
          className={buttonClass}
          onClick={() => setShown(pageNumber - 1)}
          disabled={!pdf || pageNumber <= 1}
          aria-label="Previous page"
        >
          <span aria-hidden="true">‹ </span>Previous
        </button>
        <span className="text-sm text-slate-700 tabular-nums" data-testid="viewer-page" aria-live="polite">
          Page {pageNumber}
          {pageCount ? ` of ${pageCount}` : ''}
        </span>
        <button
          type="button"
          className={buttonClass}
          onClick={() => setShown(pageNumber + 1)}
          disabled={!pdf || pageNumber >= pageCount}
          aria-label="Next page"
        >
          Next<span aria-hidden="true"> ›</span>
        </button>
        {page != null && pageNumber !== page && (
          <button
            type="button"
            className={buttonClass}
            onClick={() => {
              setShown(page)
              frame.current?.focus() // this button goes away: focus stays in the panel
            }}
          >
            Back to page {page}
          </button>
        )}
      </div>
      {error ? (
        <p role="alert" className="m-3 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
          {error}
        </p>
      ) : (
        pdf && <HighlightNote state={highlight} where={page != null && pageNumber !== page ? 'other-page' : 'page'} />
      )}
      <div
        ref={frame}
        tabIndex={0}
        aria-label="The document"
        className="min-h-0 flex-1 overflow-auto bg-slate-100 p-3 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none focus-visible:ring-inset"
        data-testid="viewer-scroll"
      >
        {!pdf && !error && <p className="text-sm text-slate-600">Opening the PDF…</p>}
        <div
          ref={pageBox}
          className="pdf-page"
          data-testid="pdf-page"
          data-page-number={pdf ? pageNumber : undefined}
          hidden={!pdf}
          role="region"
          aria-label={`Page ${pageNumber} of the document`}
        >
          <canvas ref={canvas} aria-hidden="true" />
          <div ref={textLayer} className="textLayer" />
        </div>
      </div>
    </div>
  )
}
