// A minimal MCP server over stdio with one tool whose output schema has a nullable field written
// as a type array ({"type": ["string", "null"]}): the negative control of tests/mcp_inspector.rs,
// showing that the Inspector's --strict lint runs and reports that spelling.
//
// Usage: node type_union_server.mjs   (newline-delimited JSON-RPC on stdin/stdout)
import { createInterface } from 'node:readline';

const tool = {
  name: 'nullable_output',
  description: 'Returns a nullable string.',
  inputSchema: { type: 'object', properties: {} },
  outputSchema: {
    type: 'object',
    properties: { value: { type: ['string', 'null'] } },
    required: ['value'],
  },
};

const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n');

createInterface({ input: process.stdin }).on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  if (req.id === undefined) return; // a notification
  switch (req.method) {
    case 'initialize':
      send({
        id: req.id,
        result: {
          protocolVersion: req.params?.protocolVersion ?? '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 'type-union-server', version: '0.0.0' },
        },
      });
      break;
    case 'tools/list':
      send({ id: req.id, result: { tools: [tool] } });
      break;
    case 'ping':
      send({ id: req.id, result: {} });
      break;
    default:
      send({ id: req.id, error: { code: -32601, message: `no method ${req.method}` } });
  }
});
