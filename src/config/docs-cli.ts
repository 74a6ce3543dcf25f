// `npm run docs`: writes docs/settings.md from the settings table.
import { writeFileSync } from 'node:fs';
import { renderSettingsDoc } from './settings-doc.js';

writeFileSync(new URL('../../docs/settings.md', import.meta.url), renderSettingsDoc());
console.log('wrote docs/settings.md');
