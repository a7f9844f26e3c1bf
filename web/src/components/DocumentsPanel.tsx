import { useCallback, useEffect, useRef, useState } from 'react'
import { api, errorMessage } from '../api'
import type { Collection, DocumentInfo, DocumentStatus } from '../types'
import { CollectionPicker } from './Pickers'

const POLL_MS = 1500

const STATUS_STYLE: Record<DocumentStatus, string> = {
  pending: 'bg-slate-100 text-slate-600',
  processing: 'bg-amber-100 text-amber-700',
  ready: 'bg-emerald-100 text-emerald-700',
  failed: 'bg-red-100 text-red-700',
}

interface Props {
  collection: string
  collections: Collection[]
  onCollectionChange(name: string): void
  onCollectionsChanged(): void
  onClose(): void
}

/** Documents of one collection: upload, watch ingestion, delete. */
export function DocumentsPanel({ collection, collections, onCollectionChange, onCollectionsChanged, onClose }: Props) {
  const [docs, setDocs] = useState<DocumentInfo[]>([])
  const [error, setError] = useState<string | null>(null)
  const [uploading, setUploading] = useState(0)
  const [dragging, setDragging] = useState(false)
  const [newName, setNewName] = useState('')
  const fileInput = useRef<HTMLInputElement>(null)
  const refreshCollections = useRef(onCollectionsChanged)
  refreshCollections.current = onCollectionsChanged

  const load = useCallback(async () => {
    try {
      setDocs(await api.listDocuments(collection))
    } catch (err) {
      setError(errorMessage(err))
    }
  }, [collection])

  useEffect(() => {
    setDocs([])
    setError(null)
    void load()
  }, [load])

  const inProgress = docs.some((d) => d.status === 'pending' || d.status === 'processing')
  useEffect(() => {
    if (!inProgress) {
      refreshCollections.current()
      return
    }
    const timer = setTimeout(() => void load(), POLL_MS)
    return () => clearTimeout(timer)
  }, [docs, inProgress, load])

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

  const remove = async (doc: DocumentInfo) => {
    if (!window.confirm(`Delete “${doc.title || doc.source}” from ${collection}?`)) return
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

  return (
    <aside aria-label="Documents" className="flex h-full flex-col bg-white">
      <header className="flex items-center justify-between border-b border-slate-200 px-4 py-3">
        <h2 className="font-semibold text-slate-800">Documents</h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close documents"
          className="rounded-md p-1.5 text-slate-500 hover:bg-slate-100 hover:text-slate-800"
        >
          <svg viewBox="0 0 20 20" fill="currentColor" className="size-5" aria-hidden="true">
            <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 1 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
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
            className="h-9 min-w-0 flex-1 rounded-lg border border-slate-300 px-2 text-sm focus-visible:border-indigo-400 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none"
          />
          <button
            type="submit"
            disabled={!newName.trim()}
            className="h-9 rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 disabled:opacity-50"
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
          <p className="text-slate-600">
            Drop files here or{' '}
            <button
              type="button"
              onClick={() => fileInput.current?.click()}
              className="font-medium text-indigo-600 underline-offset-2 hover:underline"
            >
              choose files
            </button>
          </p>
          <p className="mt-1 text-xs text-slate-400">PDF, HTML, Markdown, text, DOCX</p>
          <input
            ref={fileInput}
            type="file"
            multiple
            data-testid="upload-input"
            accept=".pdf,.html,.htm,.md,.markdown,.txt,.docx,application/pdf,text/html,text/markdown,text/plain,application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            className="sr-only"
            tabIndex={-1}
            onChange={(e) => {
              if (e.target.files) void upload(e.target.files)
              e.target.value = ''
            }}
          />
          {uploading > 0 && <p className="mt-2 text-xs text-slate-500">Uploading {uploading}…</p>}
        </div>
        {error && (
          <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm whitespace-pre-line text-red-700">
            {error}
          </p>
        )}
      </div>

      <ul className="min-h-0 flex-1 divide-y divide-slate-100 overflow-y-auto" aria-live="polite">
        {docs.length === 0 && <li className="px-4 py-6 text-center text-sm text-slate-400">No documents in {collection}.</li>}
        {docs.map((doc) => (
          <li key={doc.document_id} className="group flex items-start gap-3 px-4 py-3" data-testid="document-item">
            <div className="min-w-0 flex-1">
              <p className="truncate text-sm font-medium text-slate-800" title={doc.source}>
                {doc.title || doc.source}
              </p>
              {doc.title && doc.title !== doc.source && (
                <p className="truncate text-xs text-slate-400" title={doc.source}>
                  {doc.source}
                </p>
              )}
              <p className="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-500">
                <span className={`rounded-full px-2 py-0.5 font-medium ${STATUS_STYLE[doc.status] ?? STATUS_STYLE.pending}`}>
                  {doc.status}
                </span>
                {doc.status === 'ready' && (
                  <span>
                    {doc.pages ?? 0} {doc.pages === 1 ? 'page' : 'pages'} · {doc.chunks ?? 0} chunks
                  </span>
                )}
              </p>
              {doc.error && <p className="mt-1 text-xs text-red-600">{doc.error}</p>}
            </div>
            <button
              type="button"
              onClick={() => void remove(doc)}
              aria-label={`Delete ${doc.title || doc.source}`}
              className="rounded-md px-2 py-1 text-xs text-slate-400 hover:bg-red-50 hover:text-red-600 focus-visible:ring-2 focus-visible:ring-red-200 focus-visible:outline-none"
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </aside>
  )
}
