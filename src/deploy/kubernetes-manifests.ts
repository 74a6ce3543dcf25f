/**
 * `keel init kubernetes`: kubernetes.yaml with a Deployment and a Service, running the image
 * `keel init docker` describes. Probes go to the admin listener (liveness /healthz, readiness
 * /readyz); the pod's grace period covers the preStop pause, --shutdown-delay and
 * --graceful-timeout, so Kubernetes never kills keel while it drains.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { STATE_DIR, TLS_DIR, containerLayout } from './container-layout.js';
import { type DeployPlan, shutdownSeconds } from './deploy-plan.js';
import { type YamlValue, toYaml } from './yaml-text.js';

/**
 * Seconds the preStop hook waits before Kubernetes sends SIGTERM: endpoint removal reaches
 * kube-proxy and ingress controllers asynchronously, and requests keep arriving until it has.
 */
export const PRESTOP_SECONDS = 5;
/** Extra seconds past keel's own shutdown budget before the kubelet SIGKILLs. */
const GRACE_MARGIN_S = 5;
/** The `node` user of the official Node.js images. */
const NODE_UID = 1000;
/** Memory for the primary process, which never runs app code. */
const PRIMARY_MIB = 128;
/** Memory per worker when --max-memory does not say. */
const WORKER_MIB = 256;
const MIB = 1024 * 1024;
/** Where the init container reads the TLS Secret from. */
const TLS_SECRET_DIR = '/etc/keel/tls-secret';
/** The admin token's env var: required by keel when --admin is not on loopback, as in a pod. */
export const ADMIN_TOKEN_ENV = 'KEEL_ADMIN_TOKEN';

export interface KubernetesInput {
  /** A DNS-1123 name for the Deployment, Service and Secrets. */
  readonly name: string;
  readonly hasDotEnv: boolean;
}

/** A DNS-1123 label from a package or directory name: `@acme/Shop_App` → `acme-shop-app`. */
export function kubernetesName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50).replace(/-+$/, '');
  return name === '' ? 'keel-app' : /^[a-z]/.test(name) ? name : `app-${name}`;
}

/** Seconds between SIGTERM's decision and SIGKILL: preStop pause + keel's shutdown budget + margin. */
export function terminationGraceSeconds(config: ResolvedConfig): number {
  return PRESTOP_SECONDS + Math.ceil(shutdownSeconds(config)) + GRACE_MARGIN_S;
}

/** Memory for the pod: the primary plus, per worker, --max-memory with headroom (workers recycle there) or a default. */
function memoryMiB(config: ResolvedConfig): number {
  const perWorker = config.maxMemory > 0 ? Math.ceil((config.maxMemory * 1.25) / MIB) : WORKER_MIB;
  return PRIMARY_MIB + config.workers * perWorker;
}

/**
 * Builds kubernetes.yaml for `config`.
 *
 * @example
 *   renderKubernetes(config, { name: 'shop', hasDotEnv: false }).files[0].name // 'kubernetes.yaml'
 */
export function renderKubernetes(config: ResolvedConfig, input: KubernetesInput): DeployPlan {
  // Kubelet probes come from outside the pod's network namespace, so the admin listener binds every interface.
  const layout = containerLayout(config, { adminHost: '0.0.0.0', hasDotEnv: input.hasDotEnv });
  const { name } = input;
  const secretName = `${name}-keel`;
  const envSecret = `${name}-env`;
  const tlsSecret = `${name}-tls`;
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'server' };
  const memory = `${memoryMiB(config)}Mi`;
  const secretKey = (flag: string): string => flag.replace(/^--/, '');

  const env: YamlValue[] = [
    { name: 'NODE_ENV', value: 'production' },
    { name: ADMIN_TOKEN_ENV, valueFrom: { secretKeyRef: { name: secretName, key: 'admin-token' } } },
    ...layout.secrets
      .filter((s) => s.envName !== ADMIN_TOKEN_ENV)
      .map((s) => ({ name: s.envName, valueFrom: { secretKeyRef: { name: secretName, key: secretKey(s.flag) } } })),
  ];
  const volumeMounts: YamlValue[] = [{ name: 'tmp', mountPath: '/tmp' }];
  // tsx compiles TypeScript apps into a cache under /tmp: the only write a read-only root needs.
  const volumes: YamlValue[] = [{ name: 'tmp', emptyDir: {} }];
  const containerSecurity = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  const initContainers: YamlValue[] = [];
  if (layout.tlsFiles.length > 0) {
    // keel refuses a key that others can read, and a Secret volume is root's, group-readable
    // through fsGroup at best: an init container copies the files into memory as the pod's user, mode 600.
    volumeMounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
    volumes.push({ name: 'tls-secret', secret: { secretName: tlsSecret, defaultMode: 0o440 } }, { name: 'tls', emptyDir: { medium: 'Memory' } });
    initContainers.push({
      name: 'tls-files',
      image: `${name}:latest`,
      command: ['sh', '-c', `cp ${TLS_SECRET_DIR}/* ${TLS_DIR}/ && chmod 600 ${TLS_DIR}/*`],
      securityContext: containerSecurity,
      volumeMounts: [
        { name: 'tls-secret', mountPath: TLS_SECRET_DIR, readOnly: true },
        { name: 'tls', mountPath: TLS_DIR },
      ],
    });
  }
  if (layout.needsState) {
    volumeMounts.push({ name: 'state', mountPath: STATE_DIR });
    volumes.push({ name: 'state', emptyDir: {} });
  }
  const probe = (path: string, periodSeconds: number, failureThreshold: number): YamlValue => ({
    httpGet: { path, port: 'admin' },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  });

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      // A new pod must be ready before an old one goes: no capacity lost during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: terminationGraceSeconds(config),
          initContainers: initContainers.length > 0 ? initContainers : undefined,
          securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, fsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'keel',
              image: `${name}:latest`,
              imagePullPolicy: 'IfNotPresent',
              // The image's ENTRYPOINT is keel; these are its arguments.
              args: [...layout.args],
              env,
              envFrom: layout.envFiles.length > 0 ? [{ secretRef: { name: envSecret } }] : undefined,
              ports: [
                ...layout.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: 'TCP' })),
                { name: 'admin', containerPort: layout.adminPort, protocol: 'TCP' },
              ],
              // Boot (app load, TypeScript compile) may take a while; liveness starts counting after it.
              startupProbe: probe('/healthz', 2, 60),
              livenessProbe: probe('/healthz', 10, 3),
              readinessProbe: probe('/readyz', 5, 2),
              lifecycle: { preStop: { exec: { command: ['sleep', String(PRESTOP_SECONDS)] } } },
              resources: {
                requests: { cpu: `${config.workers * 500}m`, memory },
                // One CPU per worker: keel's worker count and the CPU quota agree.
                limits: { cpu: String(config.workers), memory },
              },
              securityContext: containerSecurity,
              volumeMounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: {
      type: 'ClusterIP',
      selector: labels,
      ports: layout.ports.map((p) => ({ name: p.name, port: p.publishedPort, targetPort: p.name, protocol: 'TCP' })),
    },
  };
  const header = [
    '# Written by `keel init kubernetes` from the effective config; regenerate it after changing settings.',
    `# The image is the one \`keel init docker\` describes: docker build -t ${name}:latest . (push it where your cluster pulls from).`,
    `# terminationGracePeriodSeconds = preStop ${PRESTOP_SECONDS} s + --shutdown-delay ${config.shutdownDelay} + --graceful-timeout ${config.gracefulTimeout} + kill grace + ${GRACE_MARGIN_S} s margin.`,
  ].join('\n');
  const text = `${header}\n${toYaml(deployment)}---\n${toYaml(service)}`;

  const secretLiterals = [`--from-literal=admin-token="$(openssl rand -hex 32)"`, ...layout.secrets.filter((s) => s.envName !== ADMIN_TOKEN_ENV).map((s) => `--from-literal=${secretKey(s.flag)}=…`)];
  const nextSteps = [
    `docker build -t ${name}:latest . && push it to your registry (keel init docker writes the Dockerfile)`,
    `kubectl create secret generic ${secretName} ${secretLiterals.join(' ')}`,
  ];
  if (layout.envFiles.length > 0) nextSteps.push(`kubectl create secret generic ${envSecret} ${layout.envFiles.map((f) => `--from-env-file=${f}`).join(' ')}`);
  if (layout.tlsFiles.length > 0) nextSteps.push(`kubectl create secret generic ${tlsSecret} ${layout.tlsFiles.map((f) => `--from-file=${f.host}`).join(' ')}`);
  nextSteps.push('kubectl apply -f kubernetes.yaml', `kubectl rollout status deployment/${name}`);
  const notes = [...layout.notes];
  if (layout.tlsFiles.length > 0) notes.push(`TLS files are copied from the ${tlsSecret} Secret when a pod starts: after renewing it, kubectl rollout restart deployment/${name}`);
  return { files: [{ name: 'kubernetes.yaml', text }], notes, nextSteps };
}
