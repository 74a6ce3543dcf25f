// The file the primary forks for each worker.
import { runWorker } from './main.js';

await runWorker();
