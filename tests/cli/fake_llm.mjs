// fake_llm.mjs — a local stand-in for an OpenAI-compatible chat-completions
// server, for the magic-prompt tests. Prints "port N" once listening.
// The reply depends on a marker in the user's text:
//   MODE:slow     answers after 4 s (timeout tests)
//   MODE:hang     never answers (load tests; the connection stays open)
//   MODE:http500  answers HTTP 500
//   MODE:garbage  answers a message without any JSON object
//   MODE:invalid  answers a caption the verifier rejects
//   otherwise     a valid caption inside a ```json fence with prose around it
// Every request body is appended to the file named by argv[2] (one JSON per line).
import http from 'node:http';
import fs from 'node:fs';

const logFile = process.argv[2];
const caption = {
  high_level_description: 'A lighthouse on a cliff at dusk',
  style_description: { aesthetics: 'calm', lighting: 'golden hour', medium: 'photograph', camera: '35mm' },
  compositional_deconstruction: {
    background: 'a dark sea under an orange sky',
    elements: [{ type: 'obj', desc: 'a white lighthouse', bbox: [100, 100, 500, 900] }],
  },
};

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/v1/models')) return reply(res, 200, { ok: true });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return reply(res, 404, { error: 'no route' });
    if (logFile) fs.appendFileSync(logFile, data.replace(/\n/g, ' ') + '\n');
    const text = JSON.stringify(JSON.parse(data).messages);
    const content = (c) => reply(res, 200, { choices: [{ message: { role: 'assistant', content: c } }] });
    if (text.includes('MODE:hang')) return;
    if (text.includes('MODE:slow')) return setTimeout(() => content(JSON.stringify(caption)), 4000);
    if (text.includes('MODE:http500')) return reply(res, 500, { error: { message: 'model crashed' } });
    if (text.includes('MODE:garbage')) return content('I cannot help with that.');
    if (text.includes('MODE:invalid')) return content(JSON.stringify({ high_level_description: 'x', colour: 'red' }));
    content('Here is your caption:\n```json\n' + JSON.stringify(caption) + '\n```\nEnjoy!');
  });
});
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
