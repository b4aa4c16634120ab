/**
 * The Hugging Face Hub's URL scheme, in one place (huggingface_hub and @huggingface/hub use the same):
 *   file:    GET {endpoint}/{repo}/resolve/{revision}/{path}      (LFS files redirect to a CDN; Range resumes)
 *   listing: GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true&expand=false
 *            (what @huggingface/hub's listFiles requests; paginated with a `Link: <…>; rel="next"` header)
 *   page:    {endpoint}/{repo}  (where a user accepts a gated model's terms)
 * The endpoint is `HF_ENDPOINT` when set (a mirror), else https://huggingface.co. Concert's tests serve this
 * scheme from a loopback server: the machine they run on cannot reach the real Hub.
 */

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** `HF_ENDPOINT` (an empty value means "not set"), without a trailing slash. */
export function hubEndpoint(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): string {
  return normaliseEndpoint(env['HF_ENDPOINT'] || DEFAULT_HUB_ENDPOINT);
}

export function normaliseEndpoint(endpoint: string): string {
  return endpoint.replace(/\/+$/, '');
}

/** `namespace/name` (or a legacy single name): letters, digits, `-`, `_`, `.`; no `..`, `--`, leading or trailing `.`/`-`. */
const REPO_PART = /^(?![.-])(?!.*(?:\.\.|--))[A-Za-z0-9_.-]{1,96}(?<![.-])$/;

/** A one-line problem with `repo` as a Hub model id, or undefined when it is well formed. */
export function repoIdProblem(repo: string): string | undefined {
  if (typeof repo !== 'string' || !repo) return 'a Hub model id is required, e.g. onnx-community/SmolLM2-135M-Instruct';
  const parts = repo.split('/');
  if (parts.length > 2 || !parts.every((p) => REPO_PART.test(p)))
    return `"${repo}" is not a Hub model id (expected namespace/name, e.g. onnx-community/SmolLM2-135M-Instruct)`;
  return undefined;
}

/** Branches, tags and commits: no `..`, no leading `/`, no control or space characters. */
export function revisionProblem(revision: string): string | undefined {
  if (typeof revision !== 'string' || !revision) return 'the revision must not be empty';
  if (!/^[A-Za-z0-9_.\-/]{1,255}$/.test(revision) || revision.includes('..') || revision.startsWith('/') || revision.endsWith('/'))
    return `"${revision}" is not a branch, tag or commit name`;
  return undefined;
}

/** The local folder name of a repository: `/` becomes `--` (onnx-community--SmolLM2-135M-Instruct). */
export function repoFolderName(repo: string): string {
  return repo.replace(/\//g, '--');
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** `{endpoint}/{repo}/resolve/{revision}/{path}` (the revision encoded as one segment, like @huggingface/hub). */
export function resolveUrl(endpoint: string, repo: string, revision: string, filePath: string): string {
  return `${normaliseEndpoint(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(filePath)}`;
}

/** The recursive tree listing @huggingface/hub's `listFiles` requests (it builds this URL itself). */
export function treeUrl(endpoint: string, repo: string, revision: string): string {
  return `${normaliseEndpoint(endpoint)}/api/models/${repo}/tree/${revision}?recursive=true&expand=false`;
}

/** The repository's page on the Hub (gated models: where the terms are accepted). */
export function repoPageUrl(endpoint: string, repo: string): string {
  return `${normaliseEndpoint(endpoint)}/${repo}`;
}
