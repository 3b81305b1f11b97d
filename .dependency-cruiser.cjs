/**
 * The allowed-imports table of ../shared/DESIGN.md ("Layout"), enforced: `npm run lint`
 * fails on a forbidden import. Each rule names the layer it protects; a red rule is a
 * design conversation, not an obstacle. Only imports inside src/ are judged (tests,
 * bench and chaos may reach anything).
 */
const layer = (name) => `^src/${name}/`;
/** Specs sit beside the code but are tests: they may use test/support (given/when/then, doubles). */
const SPEC = '\\.spec\\.ts$';
const PORT = '^src/eventstore/(event-store\\.port|errors)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain imports domain only: no I/O, no framework, no other layer',
      severity: 'error',
      from: { path: layer('domain'), pathNot: SPEC },
      to: { path: '^src/', pathNot: layer('domain') },
    },
    {
      name: 'domain-no-packages',
      comment: 'domain is pure TypeScript: no npm package and no node: module',
      severity: 'error',
      from: { path: layer('domain'), pathNot: SPEC },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'core'] },
    },
    {
      name: 'sagas-pure',
      comment:
        'sagas: domain, and only the types of application/jobs (Temporal habit: workflows import types of activities)',
      severity: 'error',
      from: { path: layer('sagas'), pathNot: SPEC },
      to: { path: '^src/', pathNot: [layer('domain'), layer('sagas'), '^src/application/jobs\\.ts$'] },
    },
    {
      name: 'sagas-jobs-types-only',
      severity: 'error',
      from: { path: layer('sagas'), pathNot: SPEC },
      to: { path: '^src/application/jobs\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'application-layer',
      comment: 'application: domain, sagas, the event store port, projections read-model types',
      severity: 'error',
      from: { path: layer('application'), pathNot: SPEC },
      to: {
        path: '^src/',
        pathNot: [
          layer('application'),
          layer('domain'),
          layer('sagas'),
          PORT,
          '^src/projections/read-model\\.types\\.ts$',
        ],
      },
    },
    {
      name: 'projections-layer',
      comment: 'projections: domain and the event store port',
      severity: 'error',
      from: { path: layer('projections'), pathNot: SPEC },
      to: { path: '^src/', pathNot: [layer('projections'), layer('domain'), PORT] },
    },
    {
      name: 'http-edge',
      comment:
        'modules and http: application, domain, projections, http (and config) — never drivers, workers, event store adapters, runtime',
      severity: 'error',
      from: { path: ['^src/modules/', '^src/http/'], pathNot: SPEC },
      to: {
        path: '^src/',
        pathNot: [
          layer('modules'),
          layer('http'),
          layer('application'),
          layer('domain'),
          layer('projections'),
          layer('config'),
          PORT,
          '^src/eventstore/(hash-chain|canonical-json|export-record)\\.ts$',
          '^src/eventstore/seals/(?!sealer\\.ts$)',
        ],
      },
    },
    {
      name: 'modules-not-each-other',
      comment: 'a feature module does not reach into another feature module; share through application/domain/http',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/', pathNot: SPEC },
      to: { path: '^src/modules/', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'workers-layer',
      comment: 'workers: application/jobs, the driver port, domain types — never modules, the event store, projections',
      severity: 'error',
      from: { path: layer('workers'), pathNot: SPEC },
      to: {
        path: '^src/',
        pathNot: [
          layer('workers'),
          '^src/application/jobs\\.ts$',
          '^src/drivers/hypervisor-driver\\.port\\.ts$',
          layer('domain'),
        ],
      },
    },
    {
      name: 'drivers-below-everything',
      comment: 'drivers: drivers/kit and the driver port only — never anything above',
      severity: 'error',
      from: { path: layer('drivers'), pathNot: SPEC },
      to: { path: '^src/', pathNot: layer('drivers') },
    },
    {
      name: 'drivers-not-siblings',
      comment: 'libvirt habit: a driver shares code through drivers/kit, never through a sibling driver',
      severity: 'error',
      from: { path: '^src/drivers/([^/]+)/', pathNot: SPEC },
      to: { path: '^src/drivers/[^/]+/', pathNot: ['^src/drivers/$1/', '^src/drivers/kit/'] },
    },
    {
      name: 'kit-is-shared',
      comment: 'drivers/kit serves every driver, so it depends on none of them',
      severity: 'error',
      from: { path: '^src/drivers/kit/', pathNot: SPEC },
      to: { path: '^src/drivers/', pathNot: ['^src/drivers/kit/', '^src/drivers/hypervisor-driver\\.port\\.ts$'] },
    },
    {
      name: 'eventstore-self-contained',
      severity: 'error',
      from: { path: layer('eventstore'), pathNot: SPEC },
      to: { path: '^src/', pathNot: layer('eventstore') },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      from: { path: layer('config'), pathNot: SPEC },
      to: { path: '^src/', pathNot: layer('config') },
    },
    {
      name: 'no-test-code-in-src',
      comment: 'test doubles and helpers live under test/',
      severity: 'error',
      from: { path: '^src/', pathNot: SPEC },
      to: { path: '^(test|chaos|bench)/' },
    },
    {
      name: 'no-circular',
      // An error since the last cycle (drivers/libvirt, a constant in the wrong file) was broken: a new one is a design question.
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
