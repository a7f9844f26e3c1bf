import { useCallback, useEffect, useRef, useState } from 'react'
import { api, errorMessage } from './api'
import { clearApiKey, getApiKey, onUnauthorized } from './auth'
import { Composer } from './components/Composer'
import { DocumentsPanel } from './components/DocumentsPanel'
import { LinksMenu } from './components/LinksMenu'
import { MessageList } from './components/MessageList'
import { PassagePanel } from './components/PassagePanel'
import { CollectionPicker, ModelPicker } from './components/Pickers'
import { SignIn } from './components/SignIn'
import { ThreadList, threadTitle } from './components/ThreadList'
import { useThreadChat, type ChatMessage } from './hooks/useThreadChat'
import { useThreads } from './hooks/useThreads'
import { checkableClaims } from './markdown/plugins'
import type { Collection, ModelInfo, Thread } from './types'

const DEFAULT_COLLECTION = 'default'

function threadFromHash(): string | null {
  return new URLSearchParams(window.location.hash.slice(1)).get('thread')
}

function writeHash(threadId: string | null) {
  const url = threadId ? `#thread=${encodeURIComponent(threadId)}` : window.location.pathname + window.location.search
  window.history.replaceState(null, '', url)
}

/** The sign-in screen while the server answers 401, else the chat (remounted after each sign-in). */
export default function App() {
  const [signedOut, setSignedOut] = useState(false)
  const [session, setSession] = useState(0)
  useEffect(() => onUnauthorized(() => setSignedOut(true)), [])
  if (signedOut) {
    return (
      <SignIn
        onSignedIn={() => {
          setSignedOut(false)
          setSession((n) => n + 1)
        }}
      />
    )
  }
  return (
    <ChatApp
      key={session}
      onSignOut={
        getApiKey()
          ? () => {
              clearApiKey()
              setSignedOut(true)
            }
          : undefined
      }
    />
  )
}

type Panel = { kind: 'documents' } | { kind: 'passage'; key: string; n: number } | null

function ChatApp({ onSignOut }: { onSignOut?: () => void }) {
  const threads = useThreads()
  const [selectedId, setSelectedId] = useState<string | null>(threadFromHash)
  const [models, setModels] = useState<ModelInfo[]>([])
  const [collections, setCollections] = useState<Collection[]>([])
  const [model, setModel] = useState('')
  const [collection, setCollection] = useState(DEFAULT_COLLECTION)
  const [notice, setNotice] = useState<string | null>(null)
  const [sidebarOpen, setSidebarOpen] = useState(false)
  const [panel, setPanel] = useState<Panel>(null)
  const [hidden, setHidden] = useState<Record<string, boolean>>({})
  const [draft, setDraft] = useState<{ text: string; nonce: number } | null>(null)
  const [editing, setEditing] = useState(false)
  const [installingDemo, setInstallingDemo] = useState(false)
  const docsOpen = panel?.kind === 'documents'
  const setDocsOpen = (open: boolean | ((was: boolean) => boolean)) =>
    setPanel((p) => ((typeof open === 'function' ? open(p?.kind === 'documents') : open) ? { kind: 'documents' } : null))

  const selected = threads.threads.find((t) => t.thread_id === selectedId) ?? null

  const refreshCollections = useCallback(() => {
    api.listCollections().then(setCollections, () => {})
  }, [])

  useEffect(() => {
    api.listModels().then(setModels, () => {})
    refreshCollections()
  }, [refreshCollections])

  useEffect(() => writeHash(selectedId), [selectedId])
  useEffect(() => {
    document.title = selected ? `${threadTitle(selected)} · ragline` : 'ragline'
  }, [selected])

  // A thread's own model and collection become the pickers' values when it is opened.
  const [pickersFor, setPickersFor] = useState<string | null>(null)
  if (selected && pickersFor !== selected.thread_id) {
    setPickersFor(selected.thread_id)
    setModel(selected.model ?? '')
    setCollection(selected.collection ?? DEFAULT_COLLECTION)
  }

  // One creation at a time: a message sent while "New chat" is still creating its thread goes
  // into that thread (not into the chat on screen before, nor into a second new thread).
  const creating = useRef<Promise<string> | null>(null)
  const createThread = useCallback(() => {
    creating.current ??= threads
      .create({ collection: collection || undefined, model: model || undefined })
      .then((thread) => thread.thread_id)
      .finally(() => {
        creating.current = null
      })
    return creating.current
  }, [threads.create, collection, model])

  const chat = useThreadChat(selectedId, {
    onActivity: threads.refresh,
    createThread,
    selectThread: (id) => {
      setPickersFor(id)
      setSelectedId(id)
    },
  })

  const select = (thread: Thread) => {
    setSelectedId(thread.thread_id)
    setSidebarOpen(false)
    setNotice(null)
  }

  // A new chat is created on the server with its first message (the chat hook does it): no
  // empty threads, and nothing typed meanwhile can land in the chat that was on screen before.
  const [newChats, setNewChats] = useState(0)
  const newChat = () => {
    setNewChats((n) => n + 1) // the message box takes the focus
    setSelectedId(null)
    setSidebarOpen(false)
    setNotice(null)
  }

  const deleteThread = async (thread: Thread) => {
    if (!window.confirm(`Delete “${threadTitle(thread)}” and all its messages?`)) return
    try {
      await threads.remove(thread.thread_id)
      if (thread.thread_id === selectedId) setSelectedId(null)
    } catch (err) {
      setNotice(errorMessage(err))
    }
  }

  const send = async (content: string) => {
    setNotice(null)
    const options = { model: model || undefined, collection: collection || undefined }
    try {
      if (editing) await chat.replaceLast(content, options)
      else await chat.send(content, options)
      setEditing(false)
      return true
    } catch (err) {
      setNotice(errorMessage(err))
      return false
    }
  }

  const hideUnsupported = selectedId ? (hidden[selectedId] ?? false) : false
  const hasUnsupported = chat.messages.some((m) => checkableClaims(m.content, m.claims).some((c) => !c.supported))
  const opener = useRef<HTMLElement | null>(null)
  const openSource = useCallback((message: ChatMessage, n: number) => {
    if (document.activeElement instanceof HTMLElement) opener.current = document.activeElement
    setPanel({ kind: 'passage', key: message.key, n })
  }, [])
  /** Closing the passage puts keyboard focus back on the citation that opened it. */
  const closePassage = () => {
    setPanel(null)
    const back = opener.current
    opener.current = null
    if (back?.isConnected) setTimeout(() => back.focus(), 0)
  }
  const passage =
    panel?.kind === 'passage' ? chat.messages.find((m) => m.key === panel.key)?.sources?.[panel.n - 1] : undefined
  const regenerate = () => {
    if (!chat.lastQuestion) return
    setNotice(null)
    chat
      .replaceLast(chat.lastQuestion, { model: model || undefined, collection: collection || undefined })
      .catch((err) => setNotice(errorMessage(err)))
  }
  const editLast = () => {
    if (chat.lastQuestion == null) return
    setEditing(true)
    setDraft({ text: chat.lastQuestion, nonce: Date.now() })
  }
  /**
   * Edits an earlier question without losing the conversation: a new thread (a branch) gets the
   * messages before it, and the question goes into the composer there.
   */
  const branchFrom = useCallback(
    async (question: ChatMessage) => {
      if (!selectedId) return
      setNotice(null)
      const index = chat.messages.findIndex((m) => m.key === question.key)
      const before = chat.messages.slice(0, Math.max(index, 0)).findLast((m) => m.messageId)
      try {
        if (before?.messageId) {
          const copy = await api.copyThread(selectedId, before.messageId)
          await threads.refresh()
          setSelectedId(copy.thread_id)
        } else {
          setSelectedId(null) // the first question: its branch starts empty
        }
        setDraft({ text: question.content, nonce: Date.now() })
      } catch (err) {
        setNotice(errorMessage(err))
      }
    },
    [selectedId, chat.messages, threads.refresh],
  )
  const parent = selected?.metadata?.forked_from
    ? threads.threads.find((t) => t.thread_id === selected.metadata?.forked_from)
    : undefined

  const exportThread = async (format: 'json' | 'markdown') => {
    if (!selectedId) return
    try {
      const blob = await api.exportThread(selectedId, format)
      const url = URL.createObjectURL(blob)
      const link = document.createElement('a')
      link.href = url
      const base = (selected ? threadTitle(selected) : 'chat').replace(/[^\w.-]+/g, '-').slice(0, 60) || 'chat'
      link.download = `${base}.${format === 'json' ? 'json' : 'md'}`
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (err) {
      setNotice(errorMessage(err))
    }
  }

  const noDocuments = collections.length > 0 && collections.every((c) => !c.documents)

  const installDemo = async () => {
    setInstallingDemo(true)
    setNotice(null)
    try {
      const name = await api.installDemo()
      refreshCollections()
      setCollection(name)
      setPanel({ kind: 'documents' })
    } catch (err) {
      setNotice(`The demo collection could not be installed: ${errorMessage(err)}`)
    } finally {
      setInstallingDemo(false)
    }
  }

  const stop = () => {
    chat.stop().catch((err) => setNotice(errorMessage(err)))
  }

  return (
    <div className="flex h-full overflow-hidden text-slate-800">
      {sidebarOpen && (
        <div className="fixed inset-0 z-20 bg-slate-900/40 md:hidden" onClick={() => setSidebarOpen(false)} aria-hidden />
      )}
      <aside
        className={`fixed inset-y-0 left-0 z-30 flex w-72 flex-col bg-slate-900 text-slate-100 transition-transform md:static md:translate-x-0 ${
          sidebarOpen ? 'translate-x-0' : '-translate-x-full invisible md:visible'
        }`}
      >
        <div className="flex items-center justify-between px-4 pt-4 pb-3">
          <span className="flex items-center gap-2 text-lg font-semibold tracking-tight">
            <span className="grid size-7 place-items-center rounded-lg bg-indigo-500 text-sm font-bold" aria-hidden>
              r
            </span>
            ragline
          </span>
          {onSignOut && (
            <button
              type="button"
              data-testid="sign-out"
              onClick={onSignOut}
              className="rounded-md px-2 py-1 text-xs text-slate-300 hover:bg-slate-800 hover:text-white focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
            >
              Sign out
            </button>
          )}
        </div>
        <div className="px-3 pb-3">
          <button
            type="button"
            data-testid="new-thread"
            onClick={newChat}
            className="flex w-full items-center justify-center gap-2 rounded-lg border border-slate-600 px-3 py-2 text-sm font-medium hover:bg-slate-800 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
          >
            <span aria-hidden className="text-base leading-none">
              +
            </span>{' '}
            New chat
          </button>
        </div>
        <ThreadList
          threads={threads.threads}
          selectedId={selectedId}
          hasMore={threads.hasMore}
          error={threads.error}
          onSelect={select}
          onDelete={(t) => void deleteThread(t)}
          onLoadMore={() => void threads.loadMore()}
        />
      </aside>

      <main className="flex min-w-0 flex-1 flex-col bg-slate-50">
        <header className="flex flex-wrap items-center gap-x-3 gap-y-2 border-b border-slate-200 bg-white px-4 py-2.5">
          <button
            type="button"
            onClick={() => setSidebarOpen(true)}
            aria-label="Show chats"
            className="rounded-md p-1.5 text-slate-600 hover:bg-slate-100 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none md:hidden"
          >
            <svg viewBox="0 0 20 20" fill="currentColor" className="size-5" aria-hidden="true">
              <path
                fillRule="evenodd"
                d="M2 4.75A.75.75 0 0 1 2.75 4h14.5a.75.75 0 0 1 0 1.5H2.75A.75.75 0 0 1 2 4.75ZM2 10a.75.75 0 0 1 .75-.75h14.5a.75.75 0 0 1 0 1.5H2.75A.75.75 0 0 1 2 10Zm0 5.25a.75.75 0 0 1 .75-.75h14.5a.75.75 0 0 1 0 1.5H2.75a.75.75 0 0 1-.75-.75Z"
                clipRule="evenodd"
              />
            </svg>
          </button>
          <h1 className="min-w-0 flex-1 truncate font-semibold text-slate-800">
            {selected ? threadTitle(selected) : selectedId ? 'Chat' : 'New chat'}
          </h1>
          {selected?.metadata?.forked_from && (
            <button
              type="button"
              data-testid="branch-of"
              disabled={!parent}
              onClick={() => parent && select(parent)}
              className="max-w-[14rem] truncate rounded-md bg-slate-100 px-2 py-1 text-xs text-slate-700 hover:bg-slate-200 disabled:hover:bg-slate-100"
              title={parent ? `Open the chat this branch was copied from` : 'The chat this branch was copied from'}
            >
              Branch of {parent ? `“${threadTitle(parent)}”` : 'another chat'}
            </button>
          )}
          {selectedId && hasUnsupported && (
            <label className="flex items-center gap-2 text-xs text-slate-700">
              <input
                type="checkbox"
                data-testid="hide-unsupported"
                checked={hideUnsupported}
                onChange={(e) => setHidden((h) => ({ ...h, [selectedId]: e.target.checked }))}
                className="size-4 accent-indigo-600"
              />
              Hide unsupported sentences
            </label>
          )}
          {selectedId && chat.messages.length > 0 && (
            <details className="relative" data-testid="export">
              <summary className="flex h-9 cursor-pointer list-none items-center rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none">
                Export
              </summary>
              <div className="absolute right-0 z-10 mt-1 w-44 rounded-lg border border-slate-200 bg-white py-1 text-sm shadow-lg">
                <button
                  type="button"
                  data-testid="export-markdown"
                  onClick={(e) => {
                    e.currentTarget.closest('details')?.removeAttribute('open')
                    void exportThread('markdown')
                  }}
                  className="block w-full px-3 py-1.5 text-left hover:bg-slate-50"
                >
                  Markdown
                </button>
                <button
                  type="button"
                  data-testid="export-json"
                  onClick={(e) => {
                    e.currentTarget.closest('details')?.removeAttribute('open')
                    void exportThread('json')
                  }}
                  className="block w-full px-3 py-1.5 text-left hover:bg-slate-50"
                >
                  JSON (importable)
                </button>
              </div>
            </details>
          )}
          {selectedId && chat.messages.length > 0 && <LinksMenu threadId={selectedId} />}
          <button
            type="button"
            onClick={() => setDocsOpen((open) => !open)}
            aria-expanded={docsOpen}
            data-testid="documents-toggle"
            className="h-9 rounded-lg border border-slate-300 px-3 text-sm text-slate-700 hover:bg-slate-50 focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
          >
            Documents
          </button>
        </header>

        {notice && (
          <div role="alert" className="flex items-start gap-3 border-b border-red-200 bg-red-50 px-4 py-2 text-sm text-red-700">
            <p className="flex-1">{notice}</p>
            <button type="button" onClick={() => setNotice(null)} className="font-medium hover:underline">
              Dismiss
            </button>
          </div>
        )}

        <MessageList
          messages={chat.messages}
          onOpenSource={openSource}
          hideUnsupported={hideUnsupported}
          selected={panel?.kind === 'passage' ? { key: panel.key, n: panel.n } : null}
          onRegenerate={chat.lastQuestion ? regenerate : undefined}
          onEdit={chat.lastQuestion ? editLast : undefined}
          onBranch={branchFrom}
        >
          {chat.loading && chat.messages.length === 0 && <p className="text-center text-sm text-slate-600">Loading…</p>}
          {chat.loadError && (
            <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-center text-sm text-red-700">
              {chat.loadError}
            </p>
          )}
          {!chat.loading && !chat.loadError && chat.messages.length === 0 && (
            <div className="py-16 text-center" data-testid="empty-state">
              <h2 className="text-xl font-semibold text-slate-800">Ask your documents</h2>
              <p className="mt-2 text-sm text-slate-600">
                {collection ? (
                  <>
                    Answers come from the <span className="font-medium text-slate-800">{collection}</span> collection,
                    with numbered sources you can open.{' '}
                  </>
                ) : (
                  <>Plain chat: pick a collection to answer from your documents. </>
                )}
                <button
                  type="button"
                  onClick={() => setDocsOpen(true)}
                  className="text-indigo-700 underline-offset-2 hover:underline focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
                >
                  Add documents
                </button>
              </p>
              {noDocuments && (
                <div className="mx-auto mt-6 max-w-md rounded-xl border border-slate-200 bg-white p-4 text-sm text-slate-700 shadow-sm">
                  <p>No documents yet? Try a small demo collection of sample CVs, then ask “who has Kubernetes experience?”.</p>
                  <button
                    type="button"
                    data-testid="install-demo"
                    onClick={() => void installDemo()}
                    disabled={installingDemo}
                    className="mt-3 h-9 rounded-lg bg-indigo-600 px-4 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:outline-none disabled:bg-slate-400"
                  >
                    {installingDemo ? 'Adding the demo…' : 'Add the demo collection'}
                  </button>
                </div>
              )}
            </div>
          )}
        </MessageList>

        {editing && (
          <div className="flex items-center justify-center gap-3 border-t border-slate-200 bg-amber-50 px-4 py-1.5 text-xs text-amber-900">
            <span>Editing your last question: sending replaces it and its answer.</span>
            <button
              type="button"
              onClick={() => {
                setEditing(false)
                setDraft({ text: '', nonce: Date.now() })
              }}
              className="rounded px-1.5 py-0.5 font-medium underline focus-visible:ring-2 focus-visible:ring-indigo-400 focus-visible:outline-none"
            >
              Cancel
            </button>
          </div>
        )}
        <Composer
          streaming={chat.activeRunId !== null}
          onSend={send}
          onStop={stop}
          focusKey={`${selectedId}:${newChats}`}
          draft={draft}
          toolbar={
            <>
              <ModelPicker models={models} value={model} onChange={setModel} />
              <CollectionPicker collections={collections} value={collection} onChange={setCollection} />
            </>
          }
        />
      </main>

      {panel && (
        <div
          className={`fixed inset-y-0 right-0 z-30 w-full shrink-0 border-l border-slate-200 shadow-xl lg:static lg:z-auto lg:shadow-none ${
            panel.kind === 'passage' ? 'sm:w-[34rem] xl:w-[42rem]' : 'sm:w-96'
          }`}
        >
          {panel.kind === 'documents' ? (
            <DocumentsPanel
              collection={collection || DEFAULT_COLLECTION}
              collections={collections}
              onCollectionChange={setCollection}
              onCollectionsChanged={refreshCollections}
              onClose={() => setPanel(null)}
            />
          ) : passage ? (
            <PassagePanel source={passage} n={panel.n} onClose={closePassage} />
          ) : null}
        </div>
      )}
    </div>
  )
}
