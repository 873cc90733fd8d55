// fake_hub.mjs — a local stand-in for the Hugging Face Hub HTTP API, for the
// download tests. Usage: node fake_hub.mjs ROOT LOG. Every folder ROOT/ORG/NAME
// is a model repository whose files are the folder's files; its commit is the
// sha1 of "ORG/NAME", and the revisions "main" and that commit resolve.
// Prints "port N" once listening on 127.0.0.1.
//   GET  /api/models/ORG/NAME/revision/REV   {"sha", "siblings": [{"rfilename","size"}]}
//   HEAD|GET /ORG/NAME/resolve/REV/PATH      a small file: 200 + ETag (git blob sha1);
//        an LFS file (*.safetensors or >= 1 MiB): 302 to http://localhost:PORT/cdn/SHA256
//        (another host name, so a client must not forward the token there)
//        with X-Linked-Etag (sha256) and X-Linked-Size
//   GET  /cdn/SHA256                         the bytes, with Range (206)
// Repositories under the org "gated" need "Authorization: Bearer hf_good_token"
// (401 without a token, 403 with another, X-Error-Code: GatedRepo). The org
// "evil" lists a file named "../../escape.txt". Unknown repositories answer 404
// (X-Error-Code: RepoNotFound), unknown revisions 404 (RevisionNotFound).
// Modes, set by POST /_ctl/MODE: "cut" — the next CDN transfer stops halfway
// (once); "corrupt" — CDN bytes come back with one byte changed; "slow" — CDN
// bytes trickle at 32 KB/s (a 2.9 MB tiny VAE takes ~90 s: slower than a
// generation under ASan on a busy machine); "reset".
// Every request is logged to LOG as "METHOD URL auth=<Authorization|-> range=<Range|->".
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const root = process.argv[2];
const logFile = process.argv[3];
const GOOD_TOKEN = 'hf_good_token';
let cutNext = false;
let corrupt = false;
let slow = false;
const blobs = new Map(); // sha256 -> absolute file path

function walk(dir, base = '') {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

function fileInfo(abs) {
  const data = fs.readFileSync(abs);
  const sha256 = crypto.createHash('sha256').update(data).digest('hex');
  const git = crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
  const lfs = abs.endsWith('.safetensors') || data.length >= 1 << 20;
  if (lfs) blobs.set(sha256, abs);
  return { size: data.length, sha256, git, lfs };
}

function repoOf(org, name) {
  if (!org || !name || org.startsWith('.') || name.startsWith('.')) return null;
  const dir = path.join(root, org, name);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return null;
  return { dir, commit: crypto.createHash('sha1').update(`${org}/${name}`).digest('hex') };
}

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}
const json = (res, status, obj, extra = {}) =>
  send(res, status, { 'Content-Type': 'application/json', ...extra }, JSON.stringify(obj));

// null when allowed, else the answer already sent
function gate(req, res, org) {
  if (org !== 'gated') return false;
  const auth = req.headers.authorization;
  if (auth === `Bearer ${GOOD_TOKEN}`) return false;
  json(res, auth ? 403 : 401, { error: 'Access to this model is restricted.' }, { 'X-Error-Code': 'GatedRepo' });
  return true;
}

const server = http.createServer((req, res) => {
  fs.appendFileSync(logFile, `${req.method} ${req.url} auth=${req.headers.authorization || '-'} range=${req.headers.range || '-'}\n`);
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
  if (req.method === 'POST' && parts[0] === '_ctl') {
    if (parts[1] === 'cut') cutNext = true;
    else if (parts[1] === 'corrupt') corrupt = true;
    else if (parts[1] === 'slow') slow = true;
    else { cutNext = false; corrupt = false; slow = false; }
    return json(res, 200, { ok: true });
  }
  if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision' && req.method === 'GET') {
    const [org, name, rev] = [parts[2], parts[3], parts.slice(5).join('/')];
    if (org === 'evil') return json(res, 200, { sha: 'e'.repeat(40), siblings: [{ rfilename: '../../escape.txt' }] });
    const repo = repoOf(org, name);
    if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (gate(req, res, org)) return;
    if (rev !== 'main' && rev !== repo.commit)
      return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
    const siblings = walk(repo.dir).map((f) => ({ rfilename: f, size: fs.statSync(path.join(repo.dir, f)).size }));
    return json(res, 200, { id: `${org}/${name}`, sha: repo.commit, siblings });
  }
  if (parts[2] === 'resolve' && (req.method === 'GET' || req.method === 'HEAD')) {
    const [org, name, , rev] = parts;
    const file = parts.slice(4).join('/');
    const repo = repoOf(org, name);
    if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (gate(req, res, org)) return;
    if (rev !== 'main' && rev !== repo.commit)
      return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
    const abs = path.join(repo.dir, file);
    if (!abs.startsWith(repo.dir + path.sep) || !fs.existsSync(abs))
      return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    const info = fileInfo(abs);
    if (info.lfs) {
      const port = server.address().port;
      return send(res, 302, {
        Location: `http://localhost:${port}/cdn/${info.sha256}`,
        'X-Linked-Etag': `"${info.sha256}"`,
        'X-Linked-Size': String(info.size),
        ETag: `"${info.git}"`,
        'X-Repo-Commit': repo.commit,
        'Content-Length': '0',
      });
    }
    const headers = { ETag: `"${info.git}"`, 'Content-Length': String(info.size), 'X-Repo-Commit': repo.commit };
    if (req.method === 'HEAD') return send(res, 200, headers);
    return send(res, 200, headers, fs.readFileSync(abs));
  }
  if (parts[0] === 'cdn' && req.method === 'GET') {
    const abs = blobs.get(parts[1]);
    if (!abs) return json(res, 404, { error: 'no such blob' });
    let data = fs.readFileSync(abs);
    if (corrupt) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0x55;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
    if (m) start = Number(m[1]);
    if (start > data.length) return send(res, 416, { 'Content-Range': `bytes */${data.length}` });
    const body = data.subarray(start);
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes' };
    if (m) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(m ? 206 : 200, headers);
    if (cutNext && body.length > 1) {
      cutNext = false;
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket.destroy(), 50));
      return;
    }
    if (slow) {
      let off = 0;
      const step = () => {
        if (res.destroyed) return;
        if (off >= body.length) return res.end();
        res.write(body.subarray(off, off + (16 << 10)));
        off += 16 << 10;
        setTimeout(step, 500);
      };
      return step();
    }
    return res.end(body);
  }
  json(res, 404, { error: 'no route' });
});
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
