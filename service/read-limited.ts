/**
 * A response's body read to its end, or null once it exceeds `max` bytes (the rest is not
 * read: the stream is cancelled). For answers from other servers, which may be hostile or
 * broken: a body without a length, or a lying one, never grows memory past `max`.
 */
export async function readLimited(response: Response, max: number): Promise<Uint8Array | null> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
