#!/usr/bin/env node
// The faceparts command: runs the compiled CLI (npm run build creates dist/).
import { main } from '../dist/src-main/cli/main.js';

process.exitCode = await main(process.argv);
