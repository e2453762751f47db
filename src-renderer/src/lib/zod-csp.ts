import { z } from 'zod';

// Under the page's CSP (script-src 'self', no 'unsafe-eval') zod must not compile parsers with `new Function`;
// even its probe for eval support is reported as a CSP violation. This module is imported first by main.ts, so the
// setting is in place before any contract schema is built.
z.config({ jitless: true });
