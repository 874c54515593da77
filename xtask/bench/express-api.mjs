// The peer of `cargo xtask bench api`: the original PortOS api server's two
// measured routes, set up the way its server/index.js sets them up (Express 4,
// `cors({ origin: true, credentials: true })`, JSON and urlencoded parsers
// with a 50mb limit), with the same behaviour:
// - GET /api/providers: the portos-ai-toolkit provider service from npm (it
//   reads providers.json on every call), answered without `apiKey` (a
//   `hasApiKey` flag instead) and with secret env values as `***`;
// - GET /api/history: history.json behind a 2 s in-memory cache, filtered by
//   action / target / success, newest first, paged by limit and offset.
// Usage: node express-api.mjs DATA_DIR PORT
import express from 'express';
import cors from 'cors';
import { readFile } from 'fs/promises';
import { join } from 'path';
import { createProviderService } from 'portos-ai-toolkit/server';

const [dataDir, port] = process.argv.slice(2);
const providers = createProviderService({ dataDir, providersFile: 'providers.json' });

const withoutSecrets = ({ apiKey, envVars = {}, secretEnvVars = [], ...rest }) => {
  const env = { ...envVars };
  for (const name of secretEnvVars) if (name in env) env[name] = '***';
  return { ...rest, hasApiKey: Boolean(apiKey), envVars: env, secretEnvVars };
};

const HISTORY_TTL_MS = 2000;
let history = null;
let historyReadAt = 0;
async function loadHistory() {
  const now = Date.now();
  if (!history || now - historyReadAt >= HISTORY_TTL_MS) {
    history = JSON.parse(await readFile(join(dataDir, 'history.json'), 'utf-8'));
    historyReadAt = now;
  }
  return history;
}

const app = express();
app.use(cors({ origin: true, credentials: true }));
app.use(express.json({ limit: '50mb' }));
app.use(express.urlencoded({ limit: '50mb', extended: true }));

app.get('/api/providers', async (req, res, next) => {
  try {
    const all = await providers.getAllProviders();
    res.json({ activeProvider: all.activeProvider, providers: all.providers.map(withoutSecrets) });
  } catch (e) {
    next(e);
  }
});

app.get('/api/history', async (req, res, next) => {
  try {
    const limit = parseInt(req.query.limit, 10) || 100;
    const offset = parseInt(req.query.offset, 10) || 0;
    const { action, target } = req.query;
    const success = req.query.success !== undefined ? req.query.success === 'true' : undefined;
    let entries = [...(await loadHistory()).entries].reverse();
    if (action) entries = entries.filter((e) => e.action === action);
    if (target) entries = entries.filter((e) => e.target === target);
    if (success !== undefined) entries = entries.filter((e) => e.success === success);
    res.json({ total: entries.length, entries: entries.slice(offset, offset + limit) });
  } catch (e) {
    next(e);
  }
});

app.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
