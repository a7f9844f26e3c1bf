import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import App from './App'
import { SharedThreadView } from './components/SharedThreadView'
import './index.css'

// `/shared/{token}`: a thread's read-only link; everything else is the chat.
const shared = window.location.pathname.match(/^\/shared\/([^/]+)\/?$/)

createRoot(document.getElementById('root')!).render(
  <StrictMode>{shared ? <SharedThreadView token={decodeURIComponent(shared[1])} /> : <App />}</StrictMode>,
)
