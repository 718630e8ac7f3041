// The environment for an npm command started from inside `npm test` or `npm start`: without the npm_*
// variables npm sets for its scripts (the outer package's name, lifecycle event, config), which would leak
// into an unrelated install. The cache, registry and user config a developer chose are kept.
'use strict';

const KEEP = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);

function cleanNpmEnv(extra = {}) {
  const inherited = Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || KEEP.has(key.toLowerCase()));
  return { ...Object.fromEntries(inherited), ...extra };
}

module.exports = { cleanNpmEnv };
