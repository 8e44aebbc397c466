import { dirname, join } from 'node:path';

/** A template file (or a partial beside it) changed; `name` is the target's. */
export type TemplateEdit = (name: string) => void;

/**
 * Watches each target's template and its `partials/` directory. Editors save
 * in bursts (write, rename, chmod), so events for one target within
 * `settleMs` become one call. The watcher library is loaded here, once
 * the sources are started, so the first fetch does not wait for it.
 */
export async function watchTemplates(
  targets: readonly { name: string; template: string }[],
  onEdit: TemplateEdit,
  settleMs = 50,
): Promise<() => Promise<void>> {
  const { watch } = await import('chokidar');
  const owners = new Map<string, string[]>();
  const own = (path: string, name: string) => owners.set(path, [...(owners.get(path) ?? []), name]);
  for (const t of targets) {
    own(t.template, t.name);
    own(join(dirname(t.template), 'partials'), t.name);
  }
  const watcher = watch([...owners.keys()], { ignoreInitial: true, depth: 1 });
  const timers = new Map<string, NodeJS.Timeout>();
  const fire = (path: string) => {
    for (const [watched, names] of owners) {
      if (path !== watched && !path.startsWith(watched + '/')) continue;
      for (const name of names) {
        clearTimeout(timers.get(name));
        timers.set(
          name,
          setTimeout(() => {
            timers.delete(name);
            onEdit(name);
          }, settleMs),
        );
      }
    }
  };
  watcher.on('all', (_event, path) => fire(path));
  return async () => {
    for (const t of timers.values()) clearTimeout(t);
    await watcher.close();
  };
}
