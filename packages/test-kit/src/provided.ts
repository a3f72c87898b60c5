// What the global setup provides to every test file (vitest's inject('pg')).
declare module 'vitest' {
  export interface ProvidedContext {
    pg: { port: number; template: string; adminUrl: string };
  }
}

export {};
