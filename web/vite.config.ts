/// <reference types="vitest/config" />
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'

const backend = process.env.RAGLINE_BACKEND ?? 'http://127.0.0.1:8000'
const proxied = ['/api', '/v1', '/llm', '/conversations', '/stream_question']

/**
 * pdf.js's resources (standard fonts, CMaps, ICC profiles, image decoders), emitted beside its
 * worker as assets/pdfjs/<dir>/: fetched by the viewer from this server only when a PDF needs
 * them, never from a CDN. QuickJS (for PDF scripts, which the viewer does not run) is left out.
 */
function pdfjsResources(): Plugin {
  const root = fileURLToPath(new URL('./node_modules/pdfjs-dist/', import.meta.url))
  return {
    name: 'ragline-pdfjs-resources',
    apply: 'build',
    generateBundle() {
      for (const dir of ['standard_fonts', 'cmaps', 'iccs', 'wasm']) {
        for (const name of readdirSync(`${root}${dir}`)) {
          if (/quickjs/i.test(name)) continue
          this.emitFile({ type: 'asset', fileName: `assets/pdfjs/${dir}/${name}`, source: readFileSync(`${root}${dir}/${name}`) })
        }
      }
    },
  }
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react(), tailwindcss(), pdfjsResources()],
  build: {
    outDir: fileURLToPath(new URL('../src/ragline/static', import.meta.url)),
    emptyOutDir: true,
    // react-markdown and highlight.js's common languages: one chunk of ~190 kB gzipped.
    // pdf.js (~130 kB gzipped) is a chunk of its own, loaded when a PDF is first opened.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, { target: backend }])),
      '/ws': { target: backend, ws: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
})
