#!/usr/bin/env node
// First step of `npm test`: are the programs the tests need on this machine? The tests start real SSH
// servers (OpenSSH, Dropbear) on 127.0.0.1, create a throwaway user, and drive the editor in Chromium.
// As root with apt-get, missing Debian packages are installed; otherwise we print the command and stop.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const REQUIREMENTS = [
  { program: '/usr/sbin/sshd', pkg: 'openssh-server', why: 'the real SSH server of the tests' },
  { program: 'ssh-keygen', pkg: 'openssh-client', why: 'keys generated per run' },
  { program: 'scp', pkg: 'openssh-client', why: 'the server side of SCP (scp -t / scp -f)' },
  { program: '/usr/sbin/dropbear', pkg: 'dropbear-bin', why: 'the Dropbear server tests' },
  { program: 'dropbearkey', pkg: 'dropbear-bin', why: 'Dropbear host keys' },
  { program: '/usr/bin/chromium', pkg: 'chromium', why: 'the editor tests' },
  { program: 'useradd', pkg: 'passwd', why: 'the throwaway test user' },
  { program: 'userdel', pkg: 'passwd', why: 'removing the throwaway test user' },
  { program: 'chpasswd', pkg: 'passwd', why: "the throwaway user's password" },
  { program: 'runuser', pkg: 'util-linux', why: "looking at the server's files as the test user" },
  { program: 'puttygen', pkg: 'putty-tools', why: 'PuTTY keys for the key-format tests' },
  { program: 'g++', pkg: 'g++', why: "ssh2's native crypto binding, built when the package tests install the tarball" },
  { program: 'make', pkg: 'make', why: "building ssh2's native crypto binding" },
  { program: 'python3', pkg: 'python3', why: "node-gyp, which builds ssh2's native crypto binding" },
  { program: 'busybox', pkg: 'busybox', why: 'busybox ash, the login shell of Dropbear devices, in the glob shell-agreement test' },
  { program: 'zsh', pkg: 'zsh', why: 'zsh, a login shell the folded single-file upload command must work in (test/transfer/folded-shells)' },
  { program: '/usr/sbin/danted', pkg: 'dante-server', why: 'a real SOCKS5 proxy for the proxy tests (test/ssh/proxy)' },
  { program: 'tinyproxy', pkg: 'tinyproxy', why: 'a real HTTP CONNECT proxy for the proxy tests (test/ssh/proxy)' },
];
const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function found(program) {
  if (path.isAbsolute(program)) return isExecutable(program);
  const dirs = [...(process.env.PATH || '').split(':').filter(Boolean), ...SEARCH_PATH];
  return dirs.some((dir) => isExecutable(path.join(dir, program)));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function missingRequirements() {
  return REQUIREMENTS.filter((r) => !found(r.program));
}

function packagesOf(missing) {
  return [...new Set(missing.map((r) => r.pkg))];
}

function run(command, args) {
  console.log(`check-test-deps: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const underCi = process.env.CI === 'true';

let missing = missingRequirements();
if (missing.length > 0) {
  for (const r of missing) console.log(`check-test-deps: missing ${r.program} (${r.why}), from Debian package ${r.pkg}`);
  const packages = packagesOf(missing);
  if (isRoot && found('apt-get')) {
    if (run('apt-get', ['update']) && run('apt-get', ['install', '-y', ...packages])) {
      missing = missingRequirements();
    }
  }
  if (missing.length > 0) {
    console.error(
      `check-test-deps: still missing: ${missing.map((r) => r.program).join(', ')}\n` +
        `Install with: sudo apt-get install -y ${packagesOf(missing).join(' ')}`,
    );
    process.exit(1);
  }
}

let bindingAvailable = false;
try {
  bindingAvailable = Boolean(require('ssh2/lib/protocol/crypto.js').bindingAvailable);
} catch (err) {
  console.error(`check-test-deps: ssh2 is not installed (${err.message}); run: npm ci`);
  process.exit(1);
}
if (!bindingAvailable) {
  console.warn('check-test-deps: warning: ssh2 runs without its native crypto binding (slower); rebuild it with: npm rebuild ssh2');
}

if (!isRoot) {
  console.log(
    'check-test-deps: not root, so no throwaway user: tests that need one (password auth, permissions) ' +
      (underCi ? 'will FAIL because CI=true.' : 'will be skipped (under CI=true they fail).'),
  );
}
console.log('check-test-deps: ok (sshd, ssh-keygen, scp, dropbear, chromium, useradd, puttygen, danted, tinyproxy present)');
