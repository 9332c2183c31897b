// deploy/helm/gatehouse/values.schema.json: every value has a schema and a description,
// and Helm itself refuses a misspelt key or a wrong type instead of rendering without it.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  environmentNames,
  GATEHOUSE_CHART,
  gatehouseValuesFiles,
  loadEnvironment,
  mergeValues,
} from "../../deploy/lib/environments.ts";
import { DEFAULT_VALUES, PRODUCTION_VALUES, renderChart } from "./support.ts";

type Schema = Record<string, unknown>;
const SCHEMA = JSON.parse(readFileSync(resolve(GATEHOUSE_CHART, "values.schema.json"), "utf8")) as Schema & {
  definitions: Record<string, Schema>;
};
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The schema node a `$ref` or `allOf: [{$ref}]` points at, merged with the description beside it. */
function deref(node: Schema): Schema {
  const ref = (node.$ref ?? (node.allOf as Schema[] | undefined)?.[0]?.$ref) as string | undefined;
  if (!ref) return node;
  const target = SCHEMA.definitions[ref.replace("#/definitions/", "")];
  if (!target) throw new Error(`dangling ${ref}`);
  return { ...deref(target), ...(node.description ? { description: node.description } : {}) };
}

/** Value paths (maps followed down to their leaves or free-form maps) that have no described schema. */
function undescribed(value: unknown, node: Schema, path: string[] = []): string[] {
  const s = deref(node);
  const here = path.join(".") || "(root)";
  const out = path.length && !s.description ? [`${here}: no description`] : [];
  if (!isMap(value)) return out;
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const [k, v] of Object.entries(value)) {
    const p = props[k];
    if (p) out.push(...undescribed(v, p, [...path, k]));
    // Free-form maps (env, annotations, Kubernetes objects) list no properties or allow others.
    else if (s.properties && s.additionalProperties === false) out.push(`${[...path, k].join(".")}: not in the schema`);
  }
  return out;
}

const files = [
  DEFAULT_VALUES,
  PRODUCTION_VALUES,
  ...environmentNames().flatMap((n) => gatehouseValuesFiles(loadEnvironment(n)).slice(-1)),
];

describe("values.schema.json", () => {
  it("is a valid draft-07 schema, and every values file of the repository meets it", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(SCHEMA);
    // As Helm validates them: the files of one install, merged.
    const installs = [
      [DEFAULT_VALUES],
      [DEFAULT_VALUES, PRODUCTION_VALUES],
      ...environmentNames().map((n) => gatehouseValuesFiles(loadEnvironment(n))),
    ];
    for (const list of installs) {
      validate(mergeValues(list));
      expect(validate.errors ?? [], list.join(" + ")).toEqual([]);
    }
  });

  it("describes every value the repository's values files set", () => {
    for (const f of files) expect(undescribed(parse(readFileSync(f, "utf8")), SCHEMA), f).toEqual([]);
    // Every property of every definition has a description too, set or not.
    const missing: string[] = [];
    const walk = (node: Schema, at: string) => {
      for (const [k, p] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) {
        if (!p.description && !(p.allOf || p.$ref)) missing.push(`${at}.${k}`);
        walk(p, `${at}.${k}`);
      }
    };
    walk(SCHEMA, "(root)");
    for (const [name, d] of Object.entries(SCHEMA.definitions)) walk(d, name);
    expect(missing).toEqual([]);
  });

  it("has one definition per component, each refusing keys it does not know", () => {
    for (const c of ["authService", "gateway", "web", "webSite", "kratos", "networkPolicy", "externalSecrets"]) {
      const d = SCHEMA.definitions[c] as Schema;
      expect(d, c).toBeDefined();
      expect(d.additionalProperties, c).toBe(false);
    }
    expect(SCHEMA.additionalProperties).toBe(false);
  });

  it("the check is not vacuous: a value without a schema or a description is named", () => {
    const v = parse(readFileSync(DEFAULT_VALUES, "utf8")) as Record<string, Record<string, unknown>>;
    (v.gateway as Record<string, unknown>).brandNew = 1;
    expect(undescribed(v, SCHEMA)).toEqual(["gateway.brandNew: not in the schema"]);
  });
});

describe("Helm refuses bad values (the schema is in the chart)", () => {
  const fails = (setJson: string, message: RegExp) =>
    expect(() => renderChart(`bad ${setJson}`, [DEFAULT_VALUES], { setJson: [setJson] })).toThrow(message);

  it("a misspelt key, at the top, in a component, in a nested block", () => {
    fails("authService.replicaCout=7", /\/authService': additional properties 'replicaCout' not allowed/);
    fails("serviceMonitr={}", /additional properties 'serviceMonitr' not allowed/);
    fails('web.marketing.resources={"requests":{"cpus":"1"}}', /additional properties 'cpus' not allowed/);
    fails('gateway.podDisruptionBudget={"enabled":true,"maxUnavailable":1,"minAvailable":2}', /minAvailable/);
  });

  it("a wrong type or value", () => {
    fails('authService.replicaCount="3"', /replicaCount/);
    fails("gateway.port=70000", /\/gateway\/port/);
    fails('authService.logLevel="verbose"', /logLevel/);
    fails(
      'web.urls={"app":"http://app.example.com","marketing":"https://www.example.com","kratos":"https://auth.example.com","gateway":"https://api.example.com"}',
      /\/web\/urls\/app/,
    );
    fails('authService.image={"repository":"x","digest":"latest"}', /digest/);
    fails("gateway.podDisruptionBudget.maxUnavailable=0", /maxUnavailable/);
  });

  it("the values that render today still render (no false refusal)", () => {
    expect(renderChart("prod", [DEFAULT_VALUES, PRODUCTION_VALUES]).manifests.length).toBeGreaterThan(20);
  });
});
