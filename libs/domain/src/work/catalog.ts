// What the manager can put on a node (images) and what a cluster is made of
// (templates, hardware profiles).

/**
 * One bootable image: what the boot endpoint hands a node, and what the agent
 * in it writes to the node's disk. URLs are absolute, or paths on the manager
 * (`/images/…`) that the boot endpoint completes with the address nodes reach
 * it at.
 */
export interface Image {
  name: string;
  version: string;
  kernelUrl: string;
  initrdUrl: string;
  /** The root image the agent writes to the node's disk; empty for a discovery image, which installs nothing. */
  rootUrl: string;
  /** sha256 of the root image, lower-case hex; empty when there is no root image. */
  sha256: string;
  /** Extra kernel command line arguments. */
  cmdline: string;
}

/** A discovery image only boots the agent; an install image also writes a root image to disk. */
export function installsRoot(image: Image): boolean {
  return image.rootUrl !== '' && image.sha256 !== '';
}

/** An artifact URL as a node fetches it: paths on the manager are completed with its public base URL. */
export function artifactUrl(url: string, managerBaseUrl: string): string {
  return url.startsWith('/') ? `${managerBaseUrl.replace(/\/$/, '')}${url}` : url;
}

/** The image with every artifact URL absolute, as the boot script and the kernel command line carry them. */
export function resolveImageUrls(image: Image, managerBaseUrl: string): Image {
  const resolve = (url: string) => (url === '' ? '' : artifactUrl(url, managerBaseUrl));
  return { ...image, kernelUrl: resolve(image.kernelUrl), initrdUrl: resolve(image.initrdUrl), rootUrl: resolve(image.rootUrl) };
}

export interface ImageRef {
  name: string;
  version: string;
}

export function imageLabel(ref: ImageRef): string {
  return `${ref.name}@${ref.version}`;
}

/** `name@version`, as operators and kernel command lines write it. */
export function parseImageRef(text: string): ImageRef | null {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return null;
  return { name: text.slice(0, at), version: text.slice(at + 1) };
}

/** The hardware a template asks for. Empty model or zero count: any. */
export interface HardwareProfile {
  gpuModel: string;
  gpuCount: number;
  minMemoryBytes: number;
}

/** What profile matching needs to know of a node. */
export interface NodeHardware {
  gpuModel: string;
  gpuCount: number;
  memoryBytes: number;
}

export function matchesProfile(node: NodeHardware, profile: HardwareProfile): boolean {
  return (profile.gpuModel === '' || node.gpuModel === profile.gpuModel)
    && node.gpuCount >= profile.gpuCount
    && node.memoryBytes >= profile.minMemoryBytes;
}

/** A cluster recipe: `nodeCount` nodes of `profile`, running `image`, in `tenantId`'s network. */
export interface ClusterTemplate {
  id: string;
  name: string;
  image: ImageRef;
  profile: HardwareProfile;
  tenantId: string;
  nodeCount: number;
  createdAt: Date;
}
