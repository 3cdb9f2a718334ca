// The agent in a freshly booted image checks that it got the image the
// manager meant: it streams the root image from its URL and hashes it.
import { createHash } from 'node:crypto';

/** sha256 (hex) of what `url` serves; fails on a non-2xx answer (`permanent` below 500) or a network error. */
export async function sha256OfUrl(url: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(url, signal ? { signal } : {});
  if (!response.ok || !response.body) {
    throw Object.assign(new Error(`downloading ${url} failed: HTTP ${response.status}`), { permanent: response.status < 500 });
  }
  const hash = createHash('sha256');
  for await (const chunk of response.body) hash.update(chunk);
  return hash.digest('hex');
}
