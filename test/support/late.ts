/**
 * A value that a mocha `before` hook creates, handed to the describe body at once: the fixture returns a
 * stand-in that forwards every property to the real object once the hook has made it, and says which
 * fixture was used too early otherwise. So `const server = useOwnSshd()` reads like the object it stands for.
 */

export interface LateBound<T extends object> {
  /** the stand-in: use it like the object itself (methods are bound to the real object) */
  readonly value: T;
  set(value: T | undefined): void;
  /** the real object, or undefined before the hook ran (for an `after` hook that must not throw) */
  current(): T | undefined;
}

export function lateBound<T extends object>(what: string): LateBound<T> {
  let target: T | undefined;
  const real = (): T => {
    if (target === undefined) throw new Error(`${what} is used before its before() hook made it (call the fixture inside a describe, use it in hooks and tests)`);
    return target;
  };
  const value = new Proxy({} as T, {
    get(_, key) {
      const object = real();
      const property = Reflect.get(object, key, object) as unknown;
      return typeof property === 'function' ? (property as (...args: unknown[]) => unknown).bind(object) : property;
    },
    set(_, key, property) {
      return Reflect.set(real(), key, property);
    },
    has(_, key) {
      return Reflect.has(real(), key);
    },
    ownKeys() {
      return Reflect.ownKeys(real());
    },
    getOwnPropertyDescriptor(_, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor ? { ...descriptor, configurable: true } : undefined;
    },
    getPrototypeOf() {
      return Reflect.getPrototypeOf(real());
    },
  });
  return { value, set: (next) => (target = next), current: () => target };
}
