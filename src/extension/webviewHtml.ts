/**
 * The HTML shell of a webview: a strict CSP (nothing by default; our own styles and fonts; one nonce'd module
 * script) and the bundle. Pure, so a test can check the policy without VS Code.
 */
import { randomBytes } from 'node:crypto';

export interface WebviewShell {
  title: string;
  /** `webview.cspSource` */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUris: string[];
  /** codicon.css; vscode-elements looks it up by the id `vscode-codicon-stylesheet`. */
  codiconsUri?: string;
  /** Allow `blob:` images (see contentSecurityPolicy). */
  blobImages?: boolean;
}

/** Where the codicon font lives; .vscodeignore keeps this folder in the VSIX. */
export const CODICONS_DIR = ['dist', 'webview', 'codicons'] as const;

/**
 * Every webview's `localResourceRoots`, relative to the extension's own folder: its bundles, its styles and the codicon
 * font. Nothing of the workspace or the user's files (VS Code's default would allow the whole workspace).
 */
export const WEBVIEW_RESOURCE_DIRS: readonly (readonly string[])[] = [['dist', 'webview'], ['media'], CODICONS_DIR];

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The policy of every webview. `blobImages` (the Images panel only) adds `blob:` to img-src: the panel shows JPEG
 * bytes the worker generated, which the page itself wraps in Blob objects and object URLs. A blob: URL can only be made
 * by a script already running in the page, so this admits no outside content; `data:` (which any injected markup
 * could carry) stays refused, as do remote images.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string, o: { blobImages?: boolean } = {}): string {
  return [
    `default-src 'none'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource}${o.blobImages ? ' blob:' : ''}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function webviewHtml(s: WebviewShell): string {
  const links = [
    ...(s.codiconsUri ? [`<link rel="stylesheet" id="vscode-codicon-stylesheet" href="${escapeAttr(s.codiconsUri)}">`] : []),
    ...s.styleUris.map((u) => `<link rel="stylesheet" href="${escapeAttr(u)}">`),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(s.cspSource, s.nonce, { blobImages: s.blobImages === true }))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${links.join('\n')}
<title>${escapeAttr(s.title)}</title>
</head>
<body>
<main id="app"></main>
<script type="module" nonce="${escapeAttr(s.nonce)}" src="${escapeAttr(s.scriptUri)}"></script>
</body>
</html>`;
}
