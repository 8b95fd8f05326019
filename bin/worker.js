// Worker thread bootstrap: loads the worker entry the way bin/gup2pin loads the CLI (a cached
// bundle, else tsx) and starts serving batches of files.
'use strict';
const { keepCode, loadEntry } = require('./load.js');

loadEntry('worker').then((worker) => {
  // Its code cache is written (first run of a build) when its work is done, before it says so.
  worker.serve(keepCode);
});
