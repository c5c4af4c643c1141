import { createRouter, createWebHistory } from 'vue-router'
import { session, loadMe } from './store'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true } },
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
