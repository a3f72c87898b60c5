import { authFetch } from './session.ts';

/**
 * Downloads an authenticated GET (CSV, JSONL) as a file: fetched with the in-memory access token,
 * handed to the browser as a Blob URL (no token in any URL).
 */
export async function download(path: string, filename: string): Promise<void> {
  const res = await authFetch(path);
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `download failed (${res.status})`);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
