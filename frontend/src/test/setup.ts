// Testing Library only unmounts automatically when vitest globals are on;
// they are off here, so unmount every render after each test.
import { afterEach } from 'vitest';
import { cleanup, configure } from '@testing-library/react';

// findBy*/waitFor default to 1 s, which a busy 2-core CI machine can exceed
// while streams are parsed; a passing test is not slowed by a longer limit.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => cleanup());

// The markdown renderer is a lazily loaded chunk in the app; load it before any
// test renders, so text parts render as markdown from the first frame.
import { loadMarkdownRenderer } from '../markdown/Markdown';
await loadMarkdownRenderer();
