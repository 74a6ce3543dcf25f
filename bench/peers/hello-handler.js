// Stand-in for examples/hello/app.ts, used only while that file does not exist,
// so the baselines can be measured before keel's example lands.
export default function hello(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Hello, world!\n');
}
