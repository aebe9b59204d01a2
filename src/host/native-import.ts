// bin/bgtask.js runs the CLI bundle through vm.Script (to use its code cache), where Node 20 has
// no loader for import(): it lends its own. Elsewhere (the worker, tests) import() is our own.
export const nativeImport: (specifier: string) => Promise<unknown> =
  (globalThis as { [key: symbol]: (specifier: string) => Promise<unknown> })[Symbol.for("bgtask.import")] ?? ((specifier) => import(specifier));
