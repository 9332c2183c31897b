// What a set of NetworkPolicies lets through, as Kubernetes defines it
// (https://kubernetes.io/docs/concepts/services-networking/network-policies/), so tests can
// ask "may this pod reach that pod on this port" of rendered manifests instead of
// matching their YAML. Conservative where a manifest could allow more than the question
// shows: an ipBlock peer is taken to match every pod (a pod's IP may lie in it), and a
// named port every port.
import type { Manifest } from "./policies.ts";

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** A pod as NetworkPolicies see it: its namespace (labelled kubernetes.io/metadata.name) and labels. */
export interface Pod {
  namespace: string;
  labels: Record<string, string>;
}

/** A label selector ({matchLabels, matchExpressions}); an empty one selects everything. */
export function matchesSelector(selector: unknown, labels: Record<string, string>): boolean {
  const s = o(selector);
  for (const [k, v] of Object.entries(o(s.matchLabels))) if (labels[k] !== v) return false;
  for (const e of a(s.matchExpressions)) {
    const key = String(e.key);
    const values = (Array.isArray(e.values) ? e.values : []).map(String);
    const has = Object.hasOwn(labels, key);
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[key] ?? "")) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key] ?? "")) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new Error(`unknown selector operator ${String(e.operator)}`);
    }
  }
  return true;
}

const namespaceLabels = (ns: string) => ({ "kubernetes.io/metadata.name": ns });

/** Does a peer of a policy in `policyNs` match this pod? */
function peerMatches(peer: Obj, policyNs: string, pod: Pod): boolean {
  if (peer.ipBlock) return true;
  const inNamespace =
    peer.namespaceSelector === undefined
      ? pod.namespace === policyNs
      : matchesSelector(peer.namespaceSelector, namespaceLabels(pod.namespace));
  return inNamespace && (peer.podSelector === undefined || matchesSelector(peer.podSelector, pod.labels));
}

function portMatches(ports: unknown, port: number, protocol: string): boolean {
  const list = a(ports);
  if (list.length === 0) return true;
  return list.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined || typeof p.port === "string") return true;
    const end = typeof p.endPort === "number" ? p.endPort : p.port;
    return port >= Number(p.port) && port <= Number(end);
  });
}

function policyTypes(np: Manifest): string[] {
  const spec = o(np.spec);
  if (Array.isArray(spec.policyTypes)) return spec.policyTypes.map(String);
  return spec.egress === undefined ? ["Ingress"] : ["Ingress", "Egress"];
}

const policies = (manifests: Manifest[], defaultNs: string) =>
  manifests
    .filter((m) => m.kind === "NetworkPolicy")
    .map((np) => ({ np, ns: String(np.metadata.namespace ?? defaultNs), spec: o(np.spec) }));

/**
 * May `from` open a connection to `to` on `port` under these policies? Both sides count:
 * the source's egress policies and the destination's ingress policies. A pod no policy
 * selects (for that direction) is not isolated.
 */
export function allows(
  manifests: Manifest[],
  defaultNs: string,
  from: Pod,
  to: Pod,
  port: number,
  protocol = "TCP",
): boolean {
  const all = policies(manifests, defaultNs);
  const direction = (pod: Pod, type: "Ingress" | "Egress", peer: Pod) => {
    const selecting = all.filter(
      (p) =>
        p.ns === pod.namespace && policyTypes(p.np).includes(type) && matchesSelector(p.spec.podSelector, pod.labels),
    );
    if (selecting.length === 0) return true;
    const rulesKey = type === "Ingress" ? "ingress" : "egress";
    const peersKey = type === "Ingress" ? "from" : "to";
    return selecting.some((p) =>
      a(p.spec[rulesKey]).some((rule) => {
        const peers = a(rule[peersKey]);
        return (
          (peers.length === 0 || peers.some((x) => peerMatches(x, p.ns, peer))) &&
          portMatches(rule.ports, port, protocol)
        );
      }),
    );
  };
  return direction(from, "Egress", to) && direction(to, "Ingress", from);
}

/** The pod (template) of a workload, or a Pod itself, as a Pod (its namespace from the manifest or `defaultNs`). */
export function podOf(workload: Manifest, defaultNs: string): Pod {
  const spec = o(workload.spec);
  const template =
    workload.kind === "Pod"
      ? workload
      : workload.kind === "CronJob"
        ? o(o(o(spec.jobTemplate).spec).template)
        : o(spec.template);
  return {
    namespace: String(workload.metadata.namespace ?? defaultNs),
    labels: o(o(template.metadata).labels) as Record<string, string>,
  };
}
