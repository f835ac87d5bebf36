// Test-only forward proxy for the HTTP fixtures (make-http-fixtures.sh), on
// loopback. It never connects to the host a client names: CONNECT tunnels go
// to the local upstream port given on the command line; absolute-form
// requests (`GET http://host/…`) get a fixed answer from the proxy itself.
//   usage: node test/tools/connect-proxy.mjs LISTEN_PORT UPSTREAM_PORT
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) {
  console.error('usage: connect-proxy.mjs LISTEN_PORT UPSTREAM_PORT');
  process.exit(2);
}

net
  .createServer((client) => {
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const requestLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const rest = head.subarray(end + 4);
      console.log(`proxy: ${requestLine}`);
      if (requestLine.startsWith('CONNECT ')) {
        const upstream = net.connect(upstreamPort, '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      } else {
        client.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
      }
    };
    client.on('data', onData);
    client.on('error', () => {});
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`proxy: listening on 127.0.0.1:${listenPort}, tunnels to 127.0.0.1:${upstreamPort}`));
