// What the manager can put on a node (images) and what a cluster is made of
// (templates, hardware profiles).

/** One bootable image: what the boot endpoint hands a node, and how the agent verifies it. */
export interface Image {
  name: string;
  version: string;
  kernelUrl: string;
  initrdUrl: string;
  /** The root image the agent downloads and verifies in the new boot. */
  rootUrl: string;
  /** sha256 of the root image, lower-case hex. */
  sha256: string;
  /** Extra kernel command line arguments. */
  cmdline: string;
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
