/**
 * The API key of this browser tab, kept in sessionStorage (never in a URL), and a signal for
 * "the server answered 401" that the app turns into the sign-in screen.
 */
const STORAGE_KEY = 'ragline.apiKey'

type Listener = () => void
const listeners = new Set<Listener>()

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage
  } catch {
    return null // storage disabled by the browser
  }
}

export function getApiKey(): string | null {
  return storage()?.getItem(STORAGE_KEY) ?? null
}

export function setApiKey(key: string): void {
  storage()?.setItem(STORAGE_KEY, key)
}

export function clearApiKey(): void {
  storage()?.removeItem(STORAGE_KEY)
}

/** Headers that carry the key, when there is one. */
export function authHeaders(headers: Headers = new Headers()): Headers {
  const key = getApiKey()
  if (key) headers.set('Authorization', `Bearer ${key}`)
  return headers
}

export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export function reportUnauthorized(): void {
  for (const listener of listeners) listener()
}
