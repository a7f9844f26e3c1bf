/** Thin fetch wrappers for the ragline API (same origin, relative URLs, key in a header). */
import { authHeaders, reportUnauthorized } from './auth'
import type {
  ApiMessage,
  Collection,
  DocumentInfo,
  Feedback,
  Job,
  ModelInfo,
  Page,
  PostMessageResponse,
  Run,
  NewThreadLink,
  Share,
  SharedThread,
  Thread,
  ThreadLink,
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
  if (err instanceof ApiError) {
    if (err.status === 401) return 'Sign in with an API key to continue.'
    return err.message
  }
  if (err instanceof TypeError) return 'Cannot reach the ragline server.'
  if (err instanceof Error) return err.message
  return String(err)
}

export async function toApiError(res: Response): Promise<ApiError> {
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

/** fetch with the API key; a 401 is reported (the app shows the sign-in screen) and thrown. */
export async function authFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = authHeaders(new Headers(init.headers))
  const res = await fetch(path, { ...init, headers })
  if (res.status === 401) {
    const err = await toApiError(res)
    reportUnauthorized()
    throw err
  }
  return res
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  headers.set('Accept', 'application/json')
  if (typeof init.body === 'string') headers.set('Content-Type', 'application/json')
  const res = await authFetch(path, { ...init, headers })
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

/** The models the server offers: `/api/models`, else the OpenAI-compatible `/v1/models`. */
async function listModels(): Promise<ModelInfo[]> {
  try {
    return (await request<{ items: ModelInfo[] }>('/api/models')).items
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err
  }
  const res = await request<{ data: { id: string; owned_by: string }[] }>('/v1/models')
  return res.data.map((m, i) => ({ name: m.id, provider: m.owned_by, default: i === 0 }))
}

/** The route that installs the demo collection (sample CVs); one place to adjust it. */
export const DEMO_ROUTE = '/api/samples/cvs'

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

  /** Deletes a message and everything after it (regenerate, edit and resend). */
  rewindThread: (threadId: string, messageId: string) =>
    request<void>(`/api/threads/${enc(threadId)}/messages/${enc(messageId)}`, { method: 'DELETE' }),

  /** A branch: a new thread with this one's messages up to and including `upToMessageId`. */
  copyThread: (threadId: string, upToMessageId?: string) =>
    request<{ thread_id: string }>(
      `/api/threads/${enc(threadId)}/copy`,
      json(upToMessageId ? { up_to_message_id: upToMessageId } : {}),
    ),
  /** The thread as a file: JSON (lossless, importable) or Markdown. */
  exportThread: async (threadId: string, format: 'json' | 'markdown'): Promise<Blob> => {
    const res = await authFetch(withQuery(`/api/threads/${enc(threadId)}/export`, { format }))
    if (!res.ok) throw await toApiError(res)
    return res.blob()
  },

  /** Read-only links to a thread (the owner's): a snapshot or live, public or for signed-in users. */
  listLinks: (threadId: string) =>
    request<{ items: ThreadLink[] }>(`/api/threads/${enc(threadId)}/links`).then((r) => r.items),
  createLink: (threadId: string, body: { mode: ThreadLink['mode']; public: boolean }) =>
    request<NewThreadLink>(`/api/threads/${enc(threadId)}/links`, json(body)),
  revokeLink: (threadId: string, linkId: string) =>
    request<void>(`/api/threads/${enc(threadId)}/links/${enc(linkId)}`, { method: 'DELETE' }),
  /** What a link shows; sent with the key when there is one (a public link needs none). */
  openLink: async (token: string): Promise<SharedThread> => {
    const res = await fetch(`/api/shared/${enc(token)}`, { headers: authHeaders(new Headers({ Accept: 'application/json' })) })
    if (!res.ok) throw await toApiError(res)
    return res.json()
  },

  /** The caller's rating of an answer, or null when there is none. */
  getFeedback: async (messageId: string): Promise<Feedback | null> => {
    const found = await request<Feedback>(`/api/messages/${enc(messageId)}/feedback`)
    return found.rating === null ? null : found
  },
  giveFeedback: (messageId: string, body: { rating: 'up' | 'down'; comment?: string }) =>
    request<Feedback>(`/api/messages/${enc(messageId)}/feedback`, json(body)),

  getRun: (runId: string) => request<Run>(`/api/runs/${enc(runId)}`),
  cancelRun: (runId: string) =>
    request<{ run_id: string; status: string }>(`/api/runs/${enc(runId)}/cancel`, { method: 'POST' }),
  runEventsPath: (runId: string) => `/api/runs/${enc(runId)}/events`,

  listModels,

  listCollections: () => listAll<Collection>('/api/collections'),
  createCollection: (name: string) => request<Collection>('/api/collections', json({ name })),

  /** Sharing (the owner's own collections): who reads or edits it, share, revoke. */
  listShares: (collection: string) =>
    request<{ items: Share[] }>(`/api/collections/${enc(collection)}/shares`).then((r) => r.items),
  share: (collection: string, grantee: { user?: string; group?: string }, role: Share['role']) =>
    request<Share>(`/api/collections/${enc(collection)}/shares`, {
      method: 'PUT',
      body: JSON.stringify({ ...grantee, role }),
    }),
  unshare: (collection: string, grantee: { user?: string; group?: string }) =>
    request<void>(`/api/collections/${enc(collection)}/shares`, {
      method: 'DELETE',
      body: JSON.stringify(grantee),
    }),

  listDocuments: (collection: string) => listAll<DocumentInfo>('/api/documents', { collection }),
  uploadDocument: (file: Blob, collection: string, options: { filename?: string; source?: string } = {}) => {
    const form = new FormData()
    form.append('file', file, options.filename ?? (file instanceof File ? file.name : 'upload'))
    form.append('collection', collection)
    if (options.source) form.append('source', options.source)
    return request<DocumentInfo>('/api/documents', { method: 'POST', body: form })
  },
  deleteDocument: (documentId: string) =>
    request<void>(`/api/documents/${enc(documentId)}`, { method: 'DELETE' }),
  getJob: (jobId: string) => request<Job>(`/api/jobs/${enc(jobId)}`),

  /** The original file, fetched with the key (a key never goes into a URL). */
  documentFile: async (documentId: string): Promise<Blob> => {
    const res = await authFetch(`/api/documents/${enc(documentId)}/file`)
    if (!res.ok) throw await toApiError(res)
    return res.blob()
  },

  /** Installs the demo collection; answers the collection's name. */
  installDemo: async (): Promise<string> => {
    const res = await request<{ collection?: string; name?: string } | undefined>(DEMO_ROUTE, json({}))
    return res?.collection ?? res?.name ?? 'cvs'
  },
}
