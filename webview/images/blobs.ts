/**
 * JPEG bytes from the host (base64 in the state) → `blob:` object URLs for <img>, one per distinct image: an image
 * that did not change keeps its URL (so the patch leaves its <img> alone), and URLs no longer drawn are revoked.
 * The panel's CSP allows `blob:` images and nothing else besides its own resources (src/extension/webviewHtml.ts).
 */
export class BlobUrls {
  private urls = new Map<string, string>();
  private used = new Set<string>();

  /** The URL of a base64 JPEG (made on first use). */
  url(base64: string): string {
    let u = this.urls.get(base64);
    if (!u) {
      const bin = atob(base64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      u = URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
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
