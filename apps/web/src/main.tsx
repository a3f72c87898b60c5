import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { session } from './session.ts';
import { queryClient, TRPCProvider, trpcClient } from './trpc.ts';
import './styles.css';

// Whatever ends a session (logout, a refresh refused), no data of it outlives it in the cache.
session.subscribe(() => {
  if (session.state() === 'out') queryClient.clear();
});

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <App />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
