/** A document's original file, fetched once per open panel and shared by the viewer and "open in a tab". */
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, errorMessage } from '../../api'

export interface DocumentFile {
  /** The file of `documentId`, once fetched. */
  file: Blob | null
  error: string | null
  /** The same file for other uses (opening it in a tab), from the cache. */
  fetch(documentId: string): Promise<Blob>
}

export function useDocumentFile(documentId: string | undefined): DocumentFile {
  const cache = useRef(new Map<string, Promise<Blob>>())
  const [state, setState] = useState<{ id: string; file: Blob | null; error: string | null } | null>(null)

  const fetch = useCallback((id: string) => {
    let file = cache.current.get(id)
    if (!file) {
      file = api.documentFile(id)
      cache.current.set(id, file)
      file.catch(() => cache.current.delete(id))
    }
    return file
  }, [])

  useEffect(() => {
    if (!documentId) return
    let live = true
    setState({ id: documentId, file: null, error: null })
    fetch(documentId)
      .then((file) => live && setState({ id: documentId, file, error: null }))
      .catch((err: unknown) => live && setState({ id: documentId, file: null, error: errorMessage(err) }))
    return () => {
      live = false
    }
  }, [documentId, fetch])

  const current = state?.id === documentId ? state : null
  return { file: current?.file ?? null, error: current?.error ?? null, fetch }
}
