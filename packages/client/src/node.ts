// Node-only entry point (@entrada/client/node): file storage for Node scanners and tests.
export { NodeFileStore } from './storage/node-file-store.ts';
