/** Loaded on demand (see plugins.ts): Shiki with one light and one dark theme. */
import { createCodePlugin } from '@streamdown/code';

// Tokens carry both colours; styles.css picks one by prefers-color-scheme.
export const codePlugin = createCodePlugin({ themes: ['github-light', 'github-dark'] });
