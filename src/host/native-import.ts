// Node's own import(), for what is loaded on demand (executor modules, jiti, pg). It stood in for
// the import() that bin/bgtask.js lent the CLI bundle while it ran it through vm.Script; the
// bundle is now require()d, where import() is Node's, so the callers could use it directly.
export const nativeImport = (specifier: string): Promise<unknown> => import(specifier);
