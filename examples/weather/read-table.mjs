// Reads an Iceberg table the way another engine would, with npm `icebird` (an independent reader, no Ingot code):
//   node read-table.mjs <metadata-location> [limit]
// The table's paths are file:// URIs; fetch is given a file:// handler with HEAD and byte ranges, as an object store has.
import { icebergRead } from 'icebird'
import { open, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const [metadataLocation, limitArg] = process.argv.slice(2)
const realFetch = globalThis.fetch
globalThis.fetch = async (url, init = {}) => {
  const u = typeof url === 'string' ? url : url.toString()
  if (!u.startsWith('file://')) return realFetch(url, init)
  const path = fileURLToPath(u)
  let size
  try { size = (await stat(path)).size } catch { return new Response(null, { status: 404 }) }
  if ((init.method ?? 'GET') === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(size) } })
  const range = new Headers(init.headers).get('range')
  const [from, to] = range ? range.replace('bytes=', '').split('-').map(Number) : [0, size - 1]
  const end = Math.min(Number.isNaN(to) ? size - 1 : to, size - 1)
  const file = await open(path)
  try {
    const buffer = Buffer.alloc(end - from + 1)
    await file.read(buffer, 0, buffer.length, from)
    return new Response(buffer, { status: range ? 206 : 200, headers: { 'content-length': String(buffer.length) } })
  } finally { await file.close() }
}

const tableUrl = metadataLocation.slice(0, metadataLocation.lastIndexOf('/metadata/'))
const metadataFileName = metadataLocation.slice(metadataLocation.lastIndexOf('/') + 1)
const rows = await icebergRead({ tableUrl, metadataFileName })
const limit = Number(limitArg ?? rows.length)
for (const r of rows.slice(0, limit)) console.log(JSON.stringify(r, (k, v) => typeof v === 'bigint' ? v.toString() : v))
if (limit < rows.length) console.log(`… ${rows.length} rows in all`)
