/** Shapes of the ragline HTTP API (see API.md), as far as the UI uses them. */

export interface Thread {
  thread_id: string
  title: string | null
  collection: string | null
  model: string | null
  created_at: string
  updated_at: string
}

export interface Source {
  document_id?: string
  source: string
  title?: string | null
  page?: number | null
  chunk_id?: string | number
  score?: number
  text?: string
}

export interface ApiMessage {
  message_id: string
  role: 'user' | 'assistant'
  content: string
  sources?: Source[] | null
  run_id?: string | null
  created_at: string
  state?: string
}

export interface Page<T> {
  items: T[]
  next_cursor?: string | null
}

export interface PostMessageResponse {
  run_id: string
  message_id: string
  status: string
}

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface RunError {
  code: string
  message: string
}

export interface Run {
  run_id: string
  thread_id: string
  status: RunStatus
  model: string
  error: RunError | string | null
}

export interface FinalEvent {
  message_id: string
  content: string
  sources?: Source[] | null
  usage?: { prompt_tokens: number; completion_tokens: number }
  model?: string
}

export interface Collection {
  collection_id: string
  name: string
  documents?: number
  chunks?: number
}

export type DocumentStatus = 'pending' | 'processing' | 'ready' | 'failed'

export interface DocumentInfo {
  document_id: string
  source: string
  title: string | null
  status: DocumentStatus
  pages: number | null
  chunks: number | null
  error: string | null
}
