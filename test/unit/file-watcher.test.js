// keel dev's file watcher: a change in the app's tree is one batch after a quiet moment; changes
// under node_modules, .git, dist or in dotfiles never are; directories made later are watched too.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FileWatcher, isIgnoredName } from '../../dist/supervisor/file-watcher.js';
import { tempDir } from '../helpers/keel.js';
import { waitFor } from '../helpers/wait.js';

describe('isIgnoredName', () => {
  test('ignores dependency, VCS and build folders, dotfiles and editor files', () => {
    for (const name of ['node_modules', '.git', 'dist', '.env', '.app.js.swp', 'app.js~', '4913']) assert.equal(isIgnoredName(name), true, name);
    for (const name of ['app.js', 'src', 'routes.ts', 'index.mjs']) assert.equal(isIgnoredName(name), false, name);
  });
});

describe('FileWatcher', () => {
  const root = tempDir('keel-watch-');
  mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
  mkdirSync(join(root, 'src'));
  const batches = [];
  let watcher;
  after(() => watcher?.close());

  test('watches the tree but not node_modules', async () => {
    watcher = await FileWatcher.start(root, { debounceMs: 30, onChange: (_at, files) => batches.push([...files].sort()) });
    assert.equal(watcher.size, 2, 'the root and src/, not node_modules/ or its folders');
  });

  test('reports a change in a subfolder once, and none for ignored places', async () => {
    writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), 'x');
    writeFileSync(join(root, '.env'), 'A=1');
    writeFileSync(join(root, 'src', 'a.js'), 'one');
    writeFileSync(join(root, 'src', 'a.js'), 'two');
    await waitFor(() => batches.length > 0, { what: 'a batch' });
    assert.deepEqual(batches.shift(), ['src/a.js']);
    // Once: no second batch follows after several quiet periods.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(batches, []);
  });

  test('watches a directory created after it started', async () => {
    mkdirSync(join(root, 'src', 'later'));
    await waitFor(() => batches.length > 0, { what: 'the batch for the new folder' });
    batches.length = 0;
    await waitFor(() => watcher.size === 3, { what: 'the new folder to be watched' });
    writeFileSync(join(root, 'src', 'later', 'b.js'), 'b');
    await waitFor(() => batches.some((b) => b.includes('src/later/b.js')), { what: 'the change in the new folder' });
  });

  test('a directory deleted and made again is watched again', async () => {
    rmSync(join(root, 'src', 'later'), { recursive: true });
    await waitFor(() => watcher.size === 2, { what: 'the deleted folder to be dropped' });
    mkdirSync(join(root, 'src', 'later'));
    await waitFor(() => watcher.size === 3, { what: 'the new folder of the same name to be watched' });
    batches.length = 0;
    writeFileSync(join(root, 'src', 'later', 'c.js'), 'c');
    await waitFor(() => batches.some((b) => b.includes('src/later/c.js')), { what: 'the change in the re-made folder' });
  });
});
