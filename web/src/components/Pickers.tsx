import type { Collection } from '../types'

const selectClass =
  'h-8 max-w-[12rem] truncate rounded-md border border-slate-300 bg-white px-1.5 text-xs text-slate-700 focus-visible:border-indigo-400 focus-visible:ring-2 focus-visible:ring-indigo-100 focus-visible:outline-none'

export function ModelPicker({ models, value, onChange }: { models: string[]; value: string; onChange(v: string): void }) {
  const options = value && !models.includes(value) ? [value, ...models] : models
  return (
    <label className="flex items-center gap-1.5 text-xs text-slate-500">
      <span>Model</span>
      <select data-testid="model-picker" value={value} onChange={(e) => onChange(e.target.value)} className={selectClass}>
        <option value="">Server default</option>
        {options.map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
    </label>
  )
}

export function CollectionPicker({
  collections,
  value,
  onChange,
}: {
  collections: Collection[]
  value: string
  onChange(v: string): void
}) {
  const names = collections.map((c) => c.name)
  const options = !value || names.includes(value) ? collections : [{ collection_id: value, name: value }, ...collections]
  return (
    <label className="flex items-center gap-1.5 text-xs text-slate-500">
      <span>Collection</span>
      <select
        data-testid="collection-picker"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={selectClass}
      >
        <option value="">None (plain chat)</option>
        {options.map((c) => (
          <option key={c.collection_id} value={c.name}>
            {c.name}
            {c.documents != null ? ` (${c.documents})` : ''}
          </option>
        ))}
      </select>
    </label>
  )
}
