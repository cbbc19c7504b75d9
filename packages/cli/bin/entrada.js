#!/usr/bin/env node
// The sources are TypeScript run as is: register tsx's loader, then hand over.
import { register } from 'tsx/esm/api';

register();
await import('../src/bin.ts');
