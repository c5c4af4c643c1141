// Draws the app icon (the shape of public/icon.svg: a shield with a cross) as PNGs without dependencies.
// Run once (`node scripts/make-icons.mjs`); the PNGs are committed in public/.
import { deflateSync } from 'node:zlib'
import { writeFileSync } from 'node:fs'

function crc32(buf) {
  let c, crc = 0xffffffff
  for (const b of buf) {
    c = (crc ^ b) & 0xff
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    crc = (crc >>> 8) ^ c
  }
  return (crc ^ 0xffffffff) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type), data])
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}
function png(size, pixel) {
  const raw = Buffer.alloc((size * 4 + 1) * size)
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel((x + 0.5) / size * 512, (y + 0.5) / size * 512)
      const o = y * (size * 4 + 1) + 1 + x * 4
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b; raw[o + 3] = a
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4)
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}
const DARK = [15, 58, 107, 255], BLUE = [29, 111, 184, 255], WHITE = [255, 255, 255, 255]
function shield(x, y, grow) {
  if (y < 72 - grow || y > 446 + grow) return false
  const half = y < 132 ? 152 * (y - 72) / 60 + grow : y < 256 ? 152 + grow : (152 + grow) * Math.sqrt(Math.max(0, 1 - ((y - 256) / (190 + grow)) ** 2))
  return Math.abs(x - 256) <= half
}
function pixel(x, y, maskable) {
  if (!maskable) {
    const r = 96, cx = Math.min(Math.max(x, r), 512 - r), cy = Math.min(Math.max(y, r), 512 - r)
    if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return [0, 0, 0, 0]
  }
  const s = maskable ? 0.8 : 1, X = 256 + (x - 256) / s, Y = 256 + (y - 256) / s
  if ((Math.abs(X - 256) <= 30 && Y >= 170 && Y <= 360) || (Math.abs(Y - 265) <= 30 && X >= 161 && X <= 351)) return WHITE
  if (shield(X, Y, 0)) return BLUE
  if (shield(X, Y, 12)) return WHITE
  return DARK
}
const dir = new URL('../public/', import.meta.url)
for (const size of [192, 512]) writeFileSync(new URL(`icon-${size}.png`, dir), png(size, (x, y) => pixel(x, y, false)))
writeFileSync(new URL('icon-maskable-512.png', dir), png(512, (x, y) => pixel(x, y, true)))
writeFileSync(new URL('apple-touch-icon.png', dir), png(180, (x, y) => pixel(x, y, true)))
console.log('icons written')
