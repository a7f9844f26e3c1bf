/**
 * Shapes of the ragline HTTP API (docs/api.md), as far as the UI uses them.
 *
 * Interfaces tagged `@schema Name` are checked against the components of the server's
 * `/openapi.json` by tests/unit/test_ui_types.py, and the string unions against the server's own
 * constants, so that they cannot drift from what the server sends.
 */

/** @schema ThreadOut */
export interface Thread {
  thread_id: string
  title: string | null
  collection: string | null
  model: string | null
  /** A branch names the thread it was copied from (`forked_from`) and the last message kept. */
  metadata?: { forked_from?: string; forked_at?: string; [key: string]: unknown }
  created_at: string
  updated_at: string
}

/** @schema FeedbackOut */
export interface Feedback {
  message_id: string
  rating: 'up' | 'down' | null  // null: not rated yet
  comment: string | null
}

/** @schema LinkOut */
export interface ThreadLink {
  link_id: string
  thread_id: string
  mode: 'snapshot' | 'live'
  public: boolean
  created_at: string
}

/** @schema NewLinkOut */
export interface NewThreadLink {
  link_id: string
  thread_id: string
  mode: 'snapshot' | 'live'
  public: boolean
  created_at: string
  token: string
  path: string
}

/** What a thread's link shows (`GET /api/shared/{token}`); withheld sources keep their place. */
export interface SharedThread {
  link: { mode: 'snapshot' | 'live'; public: boolean; created_at: string }
  thread: { title: string | null; created_at: string }
  shared_by: string | null
  messages: {
    role: 'user' | 'assistant' | 'system'
    content: string
    sources: (Source | { withheld: true })[] | null
    claims: Claim[] | null
    state: string
    created_at: string
  }[]
}

/** A retrieved passage, numbered from 1 in an answer (`sources` events, `final.sources`). */
export interface Source {
  document_id?: string
  source: string
  title?: string | null
  page?: number | null
  chunk_id?: string | number
  score?: number
  text?: string
}

/** One sentence of an answer, checked against the passages (`final.claims`). */
export interface Claim {
  text: string
  start: number
  end: number
  /** 1-based numbers into the answer's sources. */
  sources: number[]
  supported: boolean
  score?: number
}

/** @values message_state */
export type MessageState = 'complete' | 'cancelled' | 'failed'

/** @model ragline.web.routes.threads.MessageOut */
export interface ApiMessage {
  message_id: string
  role: 'user' | 'assistant'
  content: string
  sources?: Source[] | null
  /** The answer's checked sentences, stored with it (older answers: read from the run). */
  claims?: Claim[] | null
  run_id?: string | null
  state: MessageState
  created_at: string
}

export interface Page<T> {
  items: T[]
  next_cursor?: string | null
}

/** @schema PostedOut */
export interface PostMessageResponse {
  run_id: string
  message_id: string
  status: string
}

/** @values run_status */
export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

/** @values run_stage */
export type RunStage = 'queued' | 'condensing' | 'retrieving' | 'reading' | 'generating'

/** The data of a `status` event. */
export interface StatusEvent {
  status: RunStatus
  stage?: RunStage
  progress?: number
  position?: number
}

export interface RunError {
  code: string
  message: string
}

/** @schema RunOut */
export interface Run {
  run_id: string
  thread_id: string
  status: RunStatus
  model: string
  error: RunError | null
}

export interface FinalEvent {
  message_id: string
  content: string
  sources?: Source[] | null
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number }
  model?: string
  claims?: Claim[] | null
}

/** @schema CollectionOut */
export interface Collection {
  collection_id: string
  name: string
  documents?: number
  chunks?: number
}

/** @values document_status */
export type DocumentStatus = 'pending' | 'processing' | 'ready' | 'failed'

/** @schema DocumentOut */
export interface DocumentInfo {
  document_id: string
  job_id: string | null
  collection: string
  source: string
  title: string | null
  filename: string
  content_type: string
  status: DocumentStatus
  pages: number | null
  chunks: number | null
  error: string | null
}


/** @schema JobOut */
export interface Job {
  job_id: string
  document_id: string
  /** `pending`, an ingestion stage (`parsing`, `chunking`, `embedding`, ...), `ready` or `failed`. */
  status: string
  progress: number
  error: string | null
}

/** @schema ModelInfo */
export interface ModelInfo {
  name: string
  provider: string
  default: boolean
}

/** A collection shared with one user or one group (`GET /api/collections/{name}/shares`). */
export interface Share {
  user: string | null
  group: string | null
  role: 'reader' | 'editor'
}
