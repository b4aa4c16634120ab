/**
 * Image bytes from the host (base64 in the state) → `blob:` object URLs for <img>, one per distinct image: an image
 * that did not change keeps its URL (so the patch leaves its <img> alone), and URLs no longer drawn are revoked.
 * The codec panels' CSP allows `blob:` images and nothing else besides their own resources
 * (src/extension/webviewHtml.ts). Images shows JPEG bytes, Video PNG frames.
 */
export class BlobUrls {
  private urls = new Map<string, string>();
  private used = new Set<string>();

  constructor(private readonly type = 'image/jpeg') {}

  /** The URL of a base64 image (made on first use). */
  url(base64: string): string {
    let u = this.urls.get(base64);
    if (!u) {
      const bin = atob(base64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      u = URL.createObjectURL(new Blob([bytes], { type: this.type }));
      this.urls.set(base64, u);
    }
    this.used.add(base64);
    return u;
  }

  /** Revokes the URLs not asked for since the last sweep (call after each draw). */
  sweep(): void {
    for (const [key, u] of this.urls) {
      if (this.used.has(key)) continue;
      URL.revokeObjectURL(u);
      this.urls.delete(key);
    }
    this.used = new Set();
  }
}
