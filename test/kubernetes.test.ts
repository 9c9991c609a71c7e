// deploy/kubernetes renders (base and the Neon overlay) and every object is valid against the
// Kubernetes API schemas (kubernetes-models, offline); the settings that must agree do.
import { describe, expect, test } from "bun:test";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Job } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Service } from "kubernetes-models/v1";
import { loadConfig } from "../src/config";
import { renderKustomization } from "./support/kustomize";

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "batch/v1/Job": Job,
};
const envOf = (container: any) =>
  Object.fromEntries(
    container.env.map((e: any) => [
      e.name,
      e.value ?? `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`,
    ]),
  );

for (const dir of ["deploy/kubernetes/base", "deploy/kubernetes/overlays/neon"]) {
  describe(dir, () => {
    test("renders, and every object is valid against the Kubernetes API schema of its kind", async () => {
      const objects = await renderKustomization(dir);
      expect(objects.map((o) => `${o.apiVersion}/${o.kind}`).sort()).toEqual(Object.keys(MODELS).sort());
      for (const o of objects) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`]!;
        expect(() => new Model(o).validate()).not.toThrow();
      }
    });

    test("the Deployment fits its probes, drain delay, grace period, security context and the service's own config", async () => {
      const objects = await renderKustomization(dir);
      const deployment = objects.find((o) => o.kind === "Deployment")!;
      const pod = deployment.spec.template.spec;
      const [api] = pod.containers;
      const env = envOf(api);
      expect(api.livenessProbe.httpGet.path).toBe("/health");
      expect(api.readinessProbe.httpGet.path).toBe("/health/ready");
      expect(api.startupProbe.httpGet.path).toBe("/health");
      expect(env.MIGRATE_ON_START).toBe("false");
      expect(env.DATABASE_URL).toStartWith("secret:");
      expect(env.BETTER_AUTH_SECRET).toStartWith("secret:");
      // Readiness must fail (one probe period) inside the drain delay, and drain + 10 s of in-flight fit the grace period.
      const drainS = Number(env.SHUTDOWN_DRAIN_MS) / 1000;
      expect(api.readinessProbe.periodSeconds * api.readinessProbe.failureThreshold).toBeLessThan(drainS);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainS + 10);
      expect(api.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(api.resources.requests && api.resources.limits).toBeTruthy();
      // The values the pod will run with are accepted by the service's own configuration.
      const plain = Object.fromEntries(Object.entries(env).filter(([, v]) => !(v as string).startsWith("secret:")));
      const config = loadConfig({
        ...plain,
        DATABASE_URL: "postgresql://u:p@ep-x-pooler.example.com/neondb?sslmode=verify-full&sslrootcert=system",
        BETTER_AUTH_SECRET: "k".repeat(48),
      } as Record<string, string>);
      expect(config.migrateOnStart).toBe(false);
      const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler")!;
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(deployment.spec.replicas);
      console.log(
        `${dir}: ${deployment.spec.replicas} replicas (HPA ${hpa.spec.minReplicas}-${hpa.spec.maxReplicas}) x DB_POOL_MAX ${config.database.poolMax} = up to ${hpa.spec.maxReplicas * config.database.poolMax} connections`,
      );
    });

    test("the migration Job runs `migrate` with the same image and a direct database URL", async () => {
      const objects = await renderKustomization(dir);
      const image = objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].image;
      const job = objects.find((o) => o.kind === "Job")!.spec.template.spec.containers[0];
      expect(job.args).toEqual(["migrate"]);
      expect(job.image).toBe(image);
      expect(envOf(job).DATABASE_URL).toBe("secret:tasks-api-secrets/DATABASE_URL_DIRECT");
    });
  });
}

test("the Neon overlay sets namespace and image, and its pool patch lands on DB_POOL_MAX", async () => {
  const objects = await renderKustomization("deploy/kubernetes/overlays/neon");
  expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set(["tasks"]));
  const api = objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0];
  expect(api.image).toBe("registry.example.com/tasks-api:0.1.0");
  expect(envOf(api).DB_POOL_MAX).toBe("10");
});

test("an object that breaks its schema is refused by the validation (the check can fail)", () => {
  expect(() => new Deployment({ metadata: { name: "x" }, spec: { replicas: "three" } } as any).validate()).toThrow();
});
