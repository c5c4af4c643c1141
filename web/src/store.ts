import { reactive } from 'vue'
import { api, type Account, type Catalogue, type Category, type Major } from './api'
import { i18n } from './i18n'

/** The signed-in account, and the catalogue once loaded. */
export const session = reactive<{ me: Account | null; checked: boolean }>({ me: null, checked: false })

const LAST = 'pingan.lastAccount'

/** The account signed in last on this device (for the phone app while offline). */
export function lastAccount(): Account | null {
  try {
    const s = localStorage.getItem(LAST)
    return s ? (JSON.parse(s) as Account) : null
  } catch {
    return null
  }
}

export function rememberAccount(a: Account | null) {
  if (a) localStorage.setItem(LAST, JSON.stringify(a))
  else localStorage.removeItem(LAST)
}

export async function loadMe(): Promise<Account | null> {
  try {
    session.me = await api.me()
    rememberAccount(session.me)
  } catch {
    session.me = null
  }
  session.checked = true
  return session.me
}

const cat = reactive<{ data: Catalogue | null; byCode: Record<string, Category | Major> }>({ data: null, byCode: {} })
let pending: Promise<Catalogue> | null = null

export function loadCatalogue(): Promise<Catalogue> {
  if (cat.data) return Promise.resolve(cat.data)
  if (!pending) {
    pending = api.categories().then((c) => {
      cat.data = c
      const m: Record<string, Category | Major> = {}
      for (const x of c.catalogue.majors) m[x.code] = x
      for (const x of c.catalogue.categories) m[x.code] = x
      cat.byCode = m
      return c
    })
    pending.catch(() => (pending = null))
  }
  return pending
}

export const catalogue = cat

export function categoryName(code: string | null | undefined): string {
  if (!code) return '—'
  const c = cat.byCode[code]
  if (!c) return code
  return i18n.global.locale.value.startsWith('zh') ? c.name_zh : c.name_en
}
