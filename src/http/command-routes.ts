import { RequestMethod, type DynamicModule, type NestInterceptor, type Type } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA, MODULE_METADATA } from '@nestjs/common/constants.js';

type ModuleRef = Type | DynamicModule;

/** The verbs a command is sent with: the routes an `Idempotency-Key` applies to. */
const COMMAND_METHODS: ReadonlySet<RequestMethod> = new Set([RequestMethod.POST, RequestMethod.DELETE]);

/**
 * Binds `interceptor` to every POST and DELETE handler of the modules' controllers (their
 * imports' too), as `@UseInterceptors` on each would, ahead of the handler's own. A global
 * interceptor (`APP_INTERCEPTOR`) would wrap every route, reads included, in Nest's RxJS
 * chain on every request, for an interceptor that only ever acts on these verbs. Call it
 * before the app is created (Nest reads the metadata when it scans the modules); a second
 * call binds nothing twice.
 */
export function bindToCommands(modules: readonly ModuleRef[], interceptor: Type<NestInterceptor>): void {
  for (const handler of commandHandlers(modules)) {
    const bound = (Reflect.getMetadata(INTERCEPTORS_METADATA, handler) ?? []) as unknown[];
    if (!bound.includes(interceptor)) Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...bound], handler);
  }
}

/** The POST and DELETE handlers of the modules' controllers, each once. */
export function commandHandlers(modules: readonly ModuleRef[]): Set<object> {
  const handlers = new Set<object>();
  for (const controller of controllersOf(modules)) {
    for (let proto: unknown = controller.prototype; proto && proto !== Object.prototype;) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        const fn = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
        if (name === 'constructor' || typeof fn !== 'function') continue;
        if (COMMAND_METHODS.has(Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod)) handlers.add(fn);
      }
      proto = Object.getPrototypeOf(proto);
    }
  }
  return handlers;
}

function controllersOf(modules: readonly ModuleRef[], seen = new Set<unknown>()): Set<Type> {
  const out = new Set<Type>();
  for (const m of modules) {
    if (seen.has(m)) continue;
    seen.add(m);
    const cls = typeof m === 'function' ? m : m.module;
    const dynamic = typeof m === 'function' ? undefined : m;
    const controllers = [
      ...((Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, cls) ?? []) as Type[]),
      ...(dynamic?.controllers ?? []),
    ];
    for (const c of controllers) out.add(c);
    const imports = [
      ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, cls) ?? []) as unknown[]),
      ...(dynamic?.imports ?? []),
    ].filter(isModuleRef);
    for (const c of controllersOf(imports, seen)) out.add(c);
  }
  return out;
}

/** A module class or a dynamic module (not a forward reference or a promise: none is imported here). */
function isModuleRef(m: unknown): m is ModuleRef {
  return typeof m === 'function' || (typeof m === 'object' && m !== null && 'module' in m);
}
