// Renders the subset of kustomize that deploy/kubernetes uses: resources (files and directories),
// namespace, images, and JSON 6902 patches with a kind/name target. No kustomize is published on
// the npm registry and Debian's kubectl (1.20) bundles an old one, so the tests render it here; any
// other field is refused, so a manifest that needs real kustomize fails loudly instead of rendering wrong.
import { join } from "node:path";

type Obj = Record<string, any>;
const SUPPORTED = new Set(["apiVersion", "kind", "resources", "namespace", "images", "patches"]);
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"]);

const readYaml = async (path: string): Promise<Obj[]> => {
  const parsed = Bun.YAML.parse(await Bun.file(path).text()) as Obj | Obj[];
  return (Array.isArray(parsed) && path.endsWith("kustomization.yaml") ? parsed : [parsed].flat()).filter(Boolean);
};

function applyJsonPatch(target: Obj, ops: Obj[]) {
  for (const op of ops) {
    const keys = (op.path as string)
      .split("/")
      .slice(1)
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop()!;
    let parent: any = target;
    for (const key of keys) {
      if (parent[key] === undefined) throw new Error(`patch path ${op.path} does not exist`);
      parent = parent[key];
    }
    if (op.op === "remove") Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else if (op.op === "replace" && !(last in parent)) throw new Error(`patch path ${op.path} does not exist`);
    else if (op.op === "add" && Array.isArray(parent))
      parent.splice(last === "-" ? parent.length : Number(last), 0, op.value);
    else if (op.op === "add" || op.op === "replace") parent[last] = op.value;
    else throw new Error(`unsupported patch op ${op.op}`);
  }
}

const containersOf = (o: Obj): Obj[] => {
  const pod = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
};

export async function renderKustomization(dir: string): Promise<Obj[]> {
  const [k] = await readYaml(join(dir, "kustomization.yaml"));
  for (const field of Object.keys(k!))
    if (!SUPPORTED.has(field)) throw new Error(`${dir}: kustomize field "${field}" is not supported by this renderer`);
  const objects: Obj[] = [];
  for (const resource of k!.resources ?? []) {
    const path = join(dir, resource);
    const isDir = await Bun.file(join(path, "kustomization.yaml")).exists();
    objects.push(...(isDir ? await renderKustomization(path) : await readYaml(path)));
  }
  for (const patch of k!.patches ?? []) {
    const ops = await readYaml(join(dir, patch.path));
    const matches = objects.filter((o) => o.kind === patch.target?.kind && o.metadata?.name === patch.target?.name);
    if (matches.length !== 1) throw new Error(`${dir}: patch ${patch.path} matches ${matches.length} objects`);
    applyJsonPatch(matches[0]!, ops);
  }
  for (const image of k!.images ?? []) {
    for (const c of objects.flatMap(containersOf)) {
      if (c.image.split(":")[0] === image.name)
        c.image = `${image.newName ?? image.name}:${image.newTag ?? c.image.split(":")[1] ?? "latest"}`;
    }
  }
  if (k!.namespace) for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k!.namespace;
  return objects;
}
