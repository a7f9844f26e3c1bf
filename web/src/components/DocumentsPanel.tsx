import { useCallback, useEffect, useRef, useState } from 'react'
import { api, errorMessage } from '../api'
import type { Collection, DocumentInfo, DocumentStatus, Job } from '../types'
import { CollectionPicker } from './Pickers'
import { SharesPanel } from './SharesPanel'

const POLL_MS = 1500

const STATUS_STYLE: Record<DocumentStatus, string> = {
  pending: 'bg-slate-100 text-slate-700',
  processing: 'bg-amber-100 text-amber-800',
  ready: 'bg-emerald-100 text-emerald-800',
  failed: 'bg-red-100 text-red-800',
}

/** Ingestion stages (the job's status) in words. */
const STAGE_WORDS: Record<string, string> = {
  pending: 'Waiting to start',
  parsing: 'Reading the file',
  ocr: 'Recognising text in scanned pages (OCR)',
  chunking: 'Splitting into passages',
  embedding: 'Embedding passages',
  indexing: 'Adding to the index',
}

export function stageWords(stage: string): string {
  return STAGE_WORDS[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1)
}

const inProgress = (d: DocumentInfo) => d.status === 'pending' || d.status === 'processing'

interface Props {
  collection: string
  collections: Collection[]
  onCollectionChange(name: string): void
  onCollectionsChanged(): void
  onClose(): void
}

/** Documents of one collection: upload, watch ingestion stage by stage, retry, delete. */
export function DocumentsPanel({ collection, collections, onCollectionChange, onCollectionsChanged, onClose }: Props) {
  const [docs, setDocs] = useState<DocumentInfo[]>([])
  const [jobs, setJobs] = useState<Record<string, Job>>({})
  const [error, setError] = useState<string | null>(null)
  const [uploading, setUploading] = useState(0)
  const [dragging, setDragging] = useState(false)
  const [newName, setNewName] = useState('')
  const [confirming, setConfirming] = useState<string | null>(null)
  const [retrying, setRetrying] = useState<string | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  const refreshCollections = useRef(onCollectionsChanged)
  refreshCollections.current = onCollectionsChanged

  const load = useCallback(async () => {
    try {
      const list = await api.listDocuments(collection)
      setDocs(list)
      const running = list.filter((d) => inProgress(d) && d.job_id)
      const fetched = await Promise.all(running.map((d) => api.getJob(d.job_id!).catch(() => null)))
      setJobs(Object.fromEntries(fetched.filter((j): j is Job => j !== null).map((j) => [j.document_id, j])))
    } catch (err) {
      setError(errorMessage(err))
    }
  }, [collection])

  useEffect(() => {
    setDocs([])
    setJobs({})
    setError(null)
    void load()
  }, [load])

  const anyInProgress = docs.some(inProgress)
  useEffect(() => {
    if (!anyInProgress) {
      refreshCollections.current()
      return
    }
    const timer = setTimeout(() => void load(), POLL_MS)
    return () => clearTimeout(timer)
  }, [docs, anyInProgress, load])

  const upload = async (files: FileList | File[]) => {
    const list = Array.from(files)
    if (list.length === 0) return
    setError(null)
    setUploading((n) => n + list.length)
    const failures: string[] = []
    for (const file of list) {
      try {
        await api.uploadDocument(file, collection)
      } catch (err) {
        failures.push(`${file.name}: ${errorMessage(err)}`)
      } finally {
        setUploading((n) => n - 1)
      }
    }
    if (failures.length) setError(failures.join('\n'))
    await load()
  }

  /** A failed document gets a fresh attempt when its identical bytes are uploaded again. */
  const retry = async (doc: DocumentInfo) => {
    setError(null)
    setRetrying(doc.document_id)
    try {
      const blob = await api.documentFile(doc.document_id)
      await api.uploadDocument(blob, doc.collection || collection, { filename: doc.filename, source: doc.source })
      await load()
    } catch (err) {
      setError(`${doc.title || doc.source}: ${errorMessage(err)}`)
    } finally {
      setRetrying(null)
    }
  }

  const remove = async (doc: DocumentInfo) => {
    setConfirming(null)
    try {
      await api.deleteDocument(doc.document_id)
      setDocs((all) => all.filter((d) => d.document_id !== doc.document_id))
      onCollectionsChanged()
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  const createCollection = async () => {
    const name = newName.trim()
    if (!name) return
    try {
      await api.createCollection(name)
      setNewName('')
      onCollectionsChanged()
      onCollectionChange(name)
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  const smallButton =
    'rounded-md px-2 py-1 text-xs focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none'

  return (
    <aside aria-label="Documents" className="flex h-full flex-col bg-white">
      <header className="flex items-center justify-between border-b border-slate-200 px-4 py-3">
        <h2 className="font-semibold text-slate-800">Documents</h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close documents"
          className="rounded-md p-1.5 text-slate-600 hover:bg-slate-100 hover:text-slate-900 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
        >
          <svg viewBox="0 0 20 20" fill="currentColor" className="size-5" aria-hidden="true">
            <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 0 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
          </svg>
        </button>
      </header>

      <div className="space-y-3 border-b border-slate-200 px-4 py-3">
        <CollectionPicker collections={collections} value={collection} onChange={onCollectionChange} />
        <form
          className="flex gap-2"
          onSubmit={(e) => {
            e.preventDefault()
            void createCollection()
          }}
        >
          <label htmlFor="new-collection" className="sr-only">
            New collection name
          </label>
          <input
            id="new-collection"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
            placeholder="New collection"
            className="h-9 min-w-0 flex-1 rounded-lg border border-slate-300 px-2 text-sm placeholder:text-slate-500 focus-visible:border-indigo-400 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none"
          />
          <button
            type="submit"
            disabled={!newName.trim()}
            className="h-9 rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none disabled:opacity-50"
          >
            Create
          </button>
        </form>

        <div
          onDragOver={(e) => {
            e.preventDefault()
            setDragging(true)
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault()
            setDragging(false)
            void upload(e.dataTransfer.files)
          }}
          className={`rounded-xl border-2 border-dashed px-4 py-5 text-center text-sm transition-colors ${
            dragging ? 'border-indigo-400 bg-indigo-50' : 'border-slate-300'
          }`}
        >
          <p className="text-slate-700">
            Drop files here or{' '}
            <button
              type="button"
              onClick={() => fileInput.current?.click()}
              className="font-medium text-indigo-700 underline underline-offset-2 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
            >
              choose files
            </button>
          </p>
          <p className="mt-1 text-xs text-slate-600">PDF, HTML, Markdown, text, DOCX</p>
          <input
            ref={fileInput}
            type="file"
            multiple
            aria-label="Upload documents"
            data-testid="upload-input"
            accept=".pdf,.html,.htm,.md,.markdown,.txt,.docx,application/pdf,text/html,text/markdown,text/plain,application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            className="sr-only"
            tabIndex={-1}
            onChange={(e) => {
              if (e.target.files) void upload(e.target.files)
              e.target.value = ''
            }}
          />
          {uploading > 0 && <p className="mt-2 text-xs text-slate-600">Uploading {uploading}…</p>}
        </div>
        {error && (
          <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm whitespace-pre-line text-red-700">
            {error}
          </p>
        )}
        {/* OWNER/NAME is someone else's: only its owner manages who reads it */}
        {!collection.includes('/') && <SharesPanel collection={collection} />}
      </div>

      <ul className="min-h-0 flex-1 divide-y divide-slate-100 overflow-y-auto" aria-label={`Documents in ${collection}`}>
        {docs.length === 0 && <li className="px-4 py-6 text-center text-sm text-slate-600">No documents in {collection}.</li>}
        {docs.map((doc) => {
          const name = doc.title || doc.source
          const job = jobs[doc.document_id]
          const stage = job && inProgress(doc) ? job.status : null
          return (
            <li key={doc.document_id} className="px-4 py-3" data-testid="document-item" data-status={doc.status}>
              <div className="flex items-start gap-3">
                <div className="min-w-0 flex-1">
                  <p className="truncate text-sm font-medium text-slate-800" title={doc.source}>
                    {name}
                  </p>
                  {doc.title && doc.title !== doc.source && (
                    <p className="truncate text-xs text-slate-600" title={doc.source}>
                      {doc.source}
                    </p>
                  )}
                  <p className="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-600">
                    <span className={`rounded-full px-2 py-0.5 font-medium ${STATUS_STYLE[doc.status] ?? STATUS_STYLE.pending}`}>
                      {doc.status}
                    </span>
                    {doc.status === 'ready' && (
                      <span>
                        {doc.pages ?? 0} {doc.pages === 1 ? 'page' : 'pages'} · {doc.chunks ?? 0} {doc.chunks === 1 ? 'passage' : 'passages'}
                      </span>
                    )}
                    {stage && (
                      <span data-testid="ingest-stage">
                        {stageWords(stage)}… {Math.round((job?.progress ?? 0) * 100)}%
                      </span>
                    )}
                  </p>
                  {stage && (
                    <div
                      role="progressbar"
                      aria-label={`Ingesting ${name}`}
                      aria-valuemin={0}
                      aria-valuemax={100}
                      aria-valuenow={Math.round((job?.progress ?? 0) * 100)}
                      className="mt-1.5 h-1 overflow-hidden rounded-full bg-slate-200"
                    >
                      <div className="h-full bg-amber-500 transition-[width]" style={{ width: `${(job?.progress ?? 0) * 100}%` }} />
                    </div>
                  )}
                  {doc.status === 'failed' && (
                    <p className="mt-1 text-xs text-red-700" data-testid="document-error">
                      Could not ingest this file: {doc.error || 'unknown error'}.
                    </p>
                  )}
                </div>
                <div className="flex shrink-0 flex-col items-end gap-1">
                  {doc.status === 'failed' && (
                    <button
                      type="button"
                      onClick={() => void retry(doc)}
                      disabled={retrying === doc.document_id}
                      aria-label={`Retry ${name}`}
                      className={`${smallButton} text-indigo-700 hover:bg-indigo-50`}
                    >
                      {retrying === doc.document_id ? 'Retrying…' : 'Retry'}
                    </button>
                  )}
                  {confirming !== doc.document_id && (
                    <button
                      type="button"
                      onClick={() => setConfirming(doc.document_id)}
                      aria-label={`Delete ${name}`}
                      className={`${smallButton} text-slate-600 hover:bg-red-50 hover:text-red-700`}
                    >
                      Delete
                    </button>
                  )}
                </div>
              </div>
              {confirming === doc.document_id && (
                <div role="group" aria-label={`Confirm deleting ${name}`} className="mt-2 flex flex-wrap items-center gap-2 rounded-lg bg-red-50 px-3 py-2 text-xs text-red-800">
                  <span className="flex-1">Delete “{name}” and its passages?</span>
                  <button
                    type="button"
                    autoFocus
                    data-testid="confirm-delete"
                    onClick={() => void remove(doc)}
                    className={`${smallButton} bg-red-700 font-medium text-white hover:bg-red-800`}
                  >
                    Delete
                  </button>
                  <button type="button" onClick={() => setConfirming(null)} className={`${smallButton} text-slate-700 hover:bg-white`}>
                    Cancel
                  </button>
                </div>
              )}
            </li>
          )
        })}
      </ul>
    </aside>
  )
}
