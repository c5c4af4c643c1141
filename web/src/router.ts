import { createRouter, createWebHistory } from 'vue-router'
import { session, loadMe } from './store'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true } },
    // The citizen portal: no account.
    { path: '/c', name: 'portal', component: () => import('./views/portal/PortalHome.vue'), meta: { public: true } },
    { path: '/c/report', name: 'portal-report', component: () => import('./views/portal/PortalReport.vue'), meta: { public: true } },
    { path: '/c/track/:code?', name: 'portal-track', component: () => import('./views/portal/PortalTrack.vue'), props: true, meta: { public: true } },
    {
      path: '/',
      component: () => import('./views/Layout.vue'),
      children: [
        { path: '', redirect: '/inbox' },
        { path: 'inbox', name: 'inbox', component: () => import('./views/Inbox.vue') },
        { path: 'matters', name: 'matters', component: () => import('./views/Matters.vue') },
        { path: 'matters/:id(\\d+)', name: 'matter', component: () => import('./views/MatterDetail.vue'), props: true },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/inbox' },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!session.checked) await loadMe()
  if (!session.me) return { name: 'login', query: to.fullPath !== '/' && to.fullPath !== '/inbox' ? { next: to.fullPath } : {} }
  return true
})
