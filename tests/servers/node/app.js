// express + multer DiskStorage upload app for tests/servers/test_node.py.
// node app.js ROOT PORT
//   POST /upload  multipart field "f": stored as ROOT/<original name>
//   GET  /ping    "pong"
// A write error (EFBIG from the guard's cap) answers 413 with its code.
'use strict';
const path = require('path');
const express = require('express');
const multer = require('multer');

const [root, port] = [process.argv[2], Number(process.argv[3])];
const storage = multer.diskStorage({
  destination: root,
  filename: (req, file, cb) => cb(null, path.basename(file.originalname)),
});
const upload = multer({ storage });
const app = express();

app.get('/ping', (req, res) => res.send('pong'));
app.post('/upload', upload.single('f'), (req, res) => {
  res.json({ ok: true, bytes: req.file.size });
});
// multer's errors (the cap's EFBIG among them) end here
app.use((err, req, res, next) => {
  const status = { EFBIG: 413, EACCES: 403, EDQUOT: 507 }[err.code] || 500;
  res.status(status).json({ ok: false, code: err.code || String(err) });
});
app.listen(port, '127.0.0.1', () => console.log(`node app on ${port}`));
