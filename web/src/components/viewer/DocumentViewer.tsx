/** The original file of a cited passage, shown at the passage: a PDF page, or the text scrolled to it. */
import { lazy, Suspense, useEffect, useState } from 'react'
import { errorMessage } from '../../api'
import { TextDocument, type TextKind } from './TextDocument'

function PdfUnavailable() {
  return (
    <p role="alert" className="m-3 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
      The PDF viewer could not be loaded; reload the page, or open the original in a new tab.
    </p>
  )
}

// pdf.js is a chunk of its own, fetched from this server the first time a PDF is opened.
const PdfPage = lazy(() => import('./PdfPage').catch(() => ({ default: PdfUnavailable })))

const TEXT_KINDS: Record<string, TextKind> = {
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/plain': 'text',
}

/** How a file of this content type is shown here (`null`: it is not). */
export function viewerKind(type: string): 'pdf' | TextKind | null {
  const mime = type.split(';')[0].trim().toLowerCase()
  if (mime === 'application/pdf') return 'pdf'
  return TEXT_KINDS[mime] ?? null
}

interface Props {
  file: Blob
  page: number | null | undefined
  passage: string
}

export function DocumentViewer({ file, page, passage }: Props) {
  const kind = viewerKind(file.type)
  const [text, setText] = useState<{ file: Blob; value: string } | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    if (kind === 'pdf' || kind === null) return
    let live = true
    setError(null)
    file
      .text()
      .then((value) => live && setText({ file, value }))
      .catch((err: unknown) => live && setError(errorMessage(err)))
    return () => {
      live = false
    }
  }, [file, kind])

  const loading = <p className="p-3 text-sm text-slate-600">Opening the document…</p>
  if (kind === null) {
    return <p className="p-3 text-sm text-slate-600">This kind of file can’t be shown here; download the original instead.</p>
  }
  if (error) {
    return (
      <p role="alert" className="m-3 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700">
        {error}
      </p>
    )
  }
  if (kind === 'pdf') {
    return (
      <Suspense fallback={loading}>
        <PdfPage data={file} page={page} passage={passage} />
      </Suspense>
    )
  }
  return text?.file === file ? <TextDocument kind={kind} text={text.value} passage={passage} /> : loading
}
