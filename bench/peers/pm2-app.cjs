// CommonJS because PM2's cluster mode loads apps with require(); the shared
// handler loader is ESM, hence the dynamic import.
const http = require('node:http');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

import(pathToFileURL(path.join(__dirname, 'handler.js')).href)
  .then(({ loadHandler }) => loadHandler())
  .then((handler) => {
    http.createServer(handler).listen(Number(process.env.PORT), '127.0.0.1');
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
