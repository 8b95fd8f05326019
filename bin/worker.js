// Worker thread bootstrap: loads the worker entry the way bin/gup2pin loads the CLI (a cached
// bundle, else tsx) and starts serving batches of files.
import { loadEntry } from './load.js';

const worker = await loadEntry('worker');
worker.serve();
