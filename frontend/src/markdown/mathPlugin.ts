/** Loaded on demand (see plugins.ts): KaTeX and its stylesheet (Vite splits the CSS with this chunk). */
import 'katex/dist/katex.min.css';
import { createMathPlugin } from '@streamdown/math';

// `$…$` stays text: models write prices with dollar signs far more often than inline math.
export const mathPlugin = createMathPlugin({ singleDollarTextMath: false });
