/** Thin fetch wrappers for the ragline API (same origin, relative URLs). */
import type {
  ApiMessage,
  Collection,
  DocumentInfo,
  Page,
  PostMessageResponse,
  Run,
  Thread,
} from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }
}

/** A human sentence for any error thrown by these helpers (or anything else). */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof TypeError) return 'Cannot reach the ragline server.'
  if (err instanceof Error) return err.message
  return String(err)
}

async function toApiError(res: Response): Promise<ApiError> {
  const fallback = `${res.status} ${res.statusText || 'request failed'}`.trim()
  try {
    const body = await res.json()
    if (body?.error?.message) {
      return new ApiError(res.status, body.error.code ?? 'error', body.error.message, body.error.details)
    }
    if (typeof body?.detail === 'string') return new ApiError(res.status, 'error', body.detail)
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(res.status, 'http_error', fallback)
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  headers.set('Accept', 'application/json')
  if (typeof init.body === 'string') headers.set('Content-Type', 'application/json')
  const res = await fetch(path, { ...init, headers })
  if (!res.ok) throw await toApiError(res)
  if (res.status === 204) return undefined as T
  const type = res.headers.get('content-type') ?? ''
  return (type.includes('json') ? await res.json() : undefined) as T
}

const json = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) })
const enc = encodeURIComponent

function withQuery(path: string, query: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value)
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

/** Follows `next_cursor` until the list is complete (bounded, to stay safe). */
async function listAll<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
  const items: T[] = []
  let cursor: string | null | undefined
  for (let page = 0; page < 50; page++) {
    const res = await request<Page<T>>(withQuery(path, { ...query, cursor }))
    items.push(...res.items)
    cursor = res.next_cursor
    if (!cursor) break
  }
  return items
}

export const api = {
  listThreads: (cursor?: string | null) =>
    request<Page<Thread>>(withQuery('/api/threads', { cursor })),
  createThread: (body: { collection?: string; model?: string }) =>
    request<Thread>('/api/threads', json(body)),
  deleteThread: (threadId: string) =>
    request<void>(`/api/threads/${enc(threadId)}`, { method: 'DELETE' }),

  listMessages: (threadId: string) => listAll<ApiMessage>(`/api/threads/${enc(threadId)}/messages`),
  postMessage: (threadId: string, body: { content: string; model?: string; collection?: string }) =>
    request<PostMessageResponse>(`/api/threads/${enc(threadId)}/messages`, json(body)),

  getRun: (runId: string) => request<Run>(`/api/runs/${enc(runId)}`),
  cancelRun: (runId: string) =>
    request<{ run_id: string; status: string }>(`/api/runs/${enc(runId)}/cancel`, { method: 'POST' }),
  runEventsUrl: (runId: string, after = 0) =>
    withQuery(`/api/runs/${enc(runId)}/events`, { after: after > 0 ? String(after) : null }),

  listModels: async () => (await request<{ data: { id: string }[] }>('/v1/models')).data.map((m) => m.id),

  listCollections: () => listAll<Collection>('/api/collections'),
  createCollection: (name: string) => request<Collection>('/api/collections', json({ name })),

  listDocuments: (collection: string) => listAll<DocumentInfo>('/api/documents', { collection }),
  uploadDocument: (file: File, collection: string) => {
    const form = new FormData()
    form.append('file', file)
    form.append('collection', collection)
    return request<{ document_id: string; status: string }>('/api/documents', { method: 'POST', body: form })
  },
  deleteDocument: (documentId: string) =>
    request<void>(`/api/documents/${enc(documentId)}`, { method: 'DELETE' }),
}
