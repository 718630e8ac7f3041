/**
 * The one mapping from system errors to codes (src/errors.ts): a local errno, the strerror text a server's
 * scp prints, and an SFTP status each give the code of the situation they stand for, so a flow sees the
 * same code for the same situation whatever the transport or the side. Pure: no server needed.
 */
import assert from 'assert';
import {
  TRANSFER_ERROR_CODES,
  TransferError,
  hasOverlongName,
  localSystemError,
  meaningOfErrno,
  meaningOfServerText,
  systemError,
  type TransferErrorCode,
} from '../../src/errors';
import { codeForServerMessage } from '../../src/scp';
import { localFailure } from '../../src/scp/scp-session';
import { SFTP_STATUS, meaningOfSftpStatus } from '../../src/sftp';
import { sftpError } from '../../src/sftp/sftp-session';

interface Situation {
  situation: string;
  errnos: string[];
  /** what OpenSSH's scp prints for it on stderr */
  scpText?: string;
  /** the SFTP status a server answers with (OpenSSH's own, or a later draft's finer one) */
  sftpStatus?: number;
  code: TransferErrorCode;
}

const SITUATIONS: Situation[] = [
  { situation: 'missing', errnos: ['ENOENT', 'ELOOP'], scpText: 'scp: /d/x: No such file or directory', sftpStatus: SFTP_STATUS.NO_SUCH_FILE, code: 'ENOENT' },
  { situation: 'symlink loop', errnos: ['ELOOP'], scpText: 'scp: /d/x: Too many levels of symbolic links', sftpStatus: SFTP_STATUS.LINK_LOOP, code: 'ENOENT' },
  { situation: 'permission', errnos: ['EACCES', 'EPERM'], scpText: 'scp: /root/x: Permission denied', sftpStatus: SFTP_STATUS.PERMISSION_DENIED, code: 'EACCES' },
  { situation: 'read-only', errnos: ['EROFS'], scpText: 'scp: /ro/x: Read-only file system', sftpStatus: SFTP_STATUS.WRITE_PROTECT, code: 'EACCES' },
  { situation: 'a directory', errnos: ['EISDIR'], scpText: 'scp: /tmp: Is a directory', sftpStatus: SFTP_STATUS.FILE_IS_A_DIRECTORY, code: 'EISDIR' },
  { situation: 'not a directory', errnos: ['ENOTDIR'], scpText: 'scp: /etc/passwd/x: Not a directory', sftpStatus: SFTP_STATUS.NOT_A_DIRECTORY, code: 'ENOTDIR' },
  { situation: 'disk full', errnos: ['ENOSPC'], scpText: 'scp: /full/x: No space left on device', sftpStatus: SFTP_STATUS.NO_SPACE_ON_FILESYSTEM, code: 'ENOSPC' },
  { situation: 'quota', errnos: ['EDQUOT'], scpText: 'scp: /q/x: Disk quota exceeded', sftpStatus: SFTP_STATUS.QUOTA_EXCEEDED, code: 'ENOSPC' },
  { situation: 'file system size limit', errnos: ['EFBIG', 'ERR_FS_FILE_TOO_LARGE'], scpText: 'scp: /d/x: File too large', code: 'ETOOBIG' },
  { situation: 'name too long', errnos: ['ENAMETOOLONG'], scpText: 'scp: /d/xxxx: File name too long', sftpStatus: SFTP_STATUS.INVALID_FILENAME, code: 'EINVAL' },
  { situation: 'I/O error', errnos: ['EIO'], scpText: 'scp: /d/x: Input/output error', code: 'EIO' },
  { situation: 'too many open files', errnos: ['EMFILE', 'ENFILE'], scpText: 'scp: /d/x: Too many open files', code: 'EIO' },
  { situation: 'out of memory', errnos: ['ENOMEM'], scpText: 'scp: /d/x: Cannot allocate memory', code: 'EIO' },
  { situation: 'exists', errnos: ['EEXIST'], sftpStatus: SFTP_STATUS.FILE_ALREADY_EXISTS, code: 'EEXIST' },
  { situation: 'invalid argument', errnos: ['EINVAL', 'ERR_INVALID_ARG_TYPE'], code: 'EINVAL' },
  { situation: 'connection dropped', errnos: ['ECONNRESET', 'EPIPE'], sftpStatus: SFTP_STATUS.CONNECTION_LOST, code: 'ECONNRESET' },
];

function errnoError(errno: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${errno}: something, open '/x'`), { code: errno });
}

function sftpStatusError(status: number, text: string): Error {
  return Object.assign(new Error(text), { code: status });
}

describe('errors: one mapping from system errors to codes', function () {
  describe('the same situation gives the same code locally, over SCP and over SFTP', function () {
    for (const row of SITUATIONS) {
      it(`${row.situation} → ${row.code}`, function () {
        for (const errno of row.errnos) {
          assert.strictEqual(meaningOfErrno(errnoError(errno))?.code, row.code, `errno ${errno}`);
          assert.strictEqual(localSystemError(errnoError(errno), 'cannot write', { path: '/x' }).code, row.code, `local ${errno}`);
          assert.strictEqual(localFailure(errnoError(errno), 'writing failed', 'h', '/x').code, row.code, `scp writer ${errno}`);
        }
        if (row.scpText !== undefined) {
          assert.strictEqual(codeForServerMessage(row.scpText), row.code, `scp text ${row.scpText}`);
          // A server that words it the same in an SFTP FAILURE's text (not OpenSSH: it says "Failure").
          assert.strictEqual(meaningOfSftpStatus(SFTP_STATUS.FAILURE, row.scpText.replace(/^scp: [^:]*: /, ''), '/d/x', 'EIO').code, row.code);
        }
        if (row.sftpStatus !== undefined) {
          assert.strictEqual(sftpError(sftpStatusError(row.sftpStatus, 'status text'), 'h', '/d/x', 'cannot open').code, row.code, `status ${row.sftpStatus}`);
        }
      });
    }
  });

  it('every mapped code is a documented one', function () {
    for (const row of SITUATIONS) assert.ok((TRANSFER_ERROR_CODES as readonly string[]).includes(row.code), row.code);
    assert.ok(TRANSFER_ERROR_CODES.includes('ENOSPC') && TRANSFER_ERROR_CODES.includes('EIO'));
  });

  it('too many open files and an I/O error never read as "permission denied"', function () {
    for (const errno of ['EMFILE', 'ENFILE', 'EIO', 'ENOMEM', 'EAGAIN', 'EBUSY']) {
      const error = localSystemError(errnoError(errno), 'cannot create the local file', { host: 'h', path: '/x' });
      assert.strictEqual(error.code, 'EIO', errno);
      assert.match(error.message, new RegExp(errno), 'the system words are kept as detail');
    }
  });

  it('an errno outside the table is EIO with the system words; an error without errno is left to the caller', function () {
    const odd = localSystemError(errnoError('EXYZZY'), 'cannot write the local file', { path: '/x' });
    assert.strictEqual(odd.code, 'EIO');
    assert.match(odd.message, /EXYZZY/);
    assert.strictEqual(meaningOfErrno(new Error('no code')), undefined);
    assert.strictEqual(meaningOfErrno({ code: 42 }), undefined);
    assert.strictEqual(meaningOfErrno({ code: 'ERR_STREAM_PREMATURE_CLOSE' }), undefined, 'a Node code outside the table is no system error');
    // scp's writer contract: a caller's writer throwing a plain Error is a protocol failure, not a system one
    assert.strictEqual(localFailure(new Error('oops'), 'writing failed', 'h', '/x').code, 'EPROTO');
  });

  it('scp texts that name no system error stay scp-specific or EPROTO', function () {
    assert.strictEqual(codeForServerMessage('scp: ambiguous target'), 'ENOTDIR');
    assert.strictEqual(codeForServerMessage('scp: protocol error: bad mode'), 'EPROTO');
    assert.strictEqual(codeForServerMessage(''), 'EPROTO');
    assert.strictEqual(meaningOfServerText('Failure'), undefined);
  });

  describe('SFTP statuses', function () {
    const cases: [string, number, string, string, TransferErrorCode][] = [
      ['OpenSSH FAILURE: the code the request expects', SFTP_STATUS.FAILURE, 'Failure', '/d/x', 'EIO'],
      ['BAD_MESSAGE on a plain path: the request was invalid', SFTP_STATUS.BAD_MESSAGE, 'Bad message', '/d/x', 'EINVAL'],
      ['BAD_MESSAGE on a 300-byte name (OpenSSH ENAMETOOLONG)', SFTP_STATUS.BAD_MESSAGE, 'Bad message', `/d/${'n'.repeat(300)}`, 'EINVAL'],
      ['OP_UNSUPPORTED', SFTP_STATUS.OP_UNSUPPORTED, 'Operation unsupported', '/d/x', 'EPROTO'],
      ['CONNECTION_LOST', SFTP_STATUS.CONNECTION_LOST, 'Connection lost', '/d/x', 'ECONNRESET'],
      ['NO_SUCH_PATH', SFTP_STATUS.NO_SUCH_PATH, 'No such path', '/d/x', 'ENOENT'],
      ['an unknown status', 99, 'Whatever', '/d/x', 'EPROTO'],
    ];
    for (const [name, status, text, path, code] of cases) {
      it(`${name} → ${code}`, function () {
        assert.strictEqual(sftpError(sftpStatusError(status, text), 'h', path, 'cannot open the remote file', 'EIO').code, code);
      });
    }

    it('an error without a status is a lost session (ECONNRESET)', function () {
      assert.strictEqual(sftpError(new Error('gone'), 'h', '/x', 'cannot open').code, 'ECONNRESET');
    });
  });

  describe('a name too long reads the same everywhere', function () {
    const long = `/d/${'n'.repeat(300)}`;
    const errors: [string, TransferError][] = [
      ['local errno', localSystemError(errnoError('ENAMETOOLONG'), 'cannot create the local file', { host: 'h', path: long })],
      ['scp writer', localFailure(errnoError('ENAMETOOLONG'), 'writing the data failed', 'h', long)],
      ['SFTP BAD_MESSAGE', sftpError(sftpStatusError(SFTP_STATUS.BAD_MESSAGE, 'Bad message'), 'h', long, 'cannot create the remote file')],
      ['SFTP INVALID_FILENAME', sftpError(sftpStatusError(SFTP_STATUS.INVALID_FILENAME, 'Invalid filename'), 'h', long, 'cannot stat the remote path')],
      [
        'scp text',
        systemError(meaningOfServerText(`scp: ${long}: File name too long`) ?? { code: 'EPROTO' }, "the server's scp refused the target", {
          host: 'h',
          path: long,
        }),
      ],
    ];
    for (const [source, error] of errors) {
      it(`${source}: EINVAL, reason nameTooLong, one summary`, function () {
        assert.strictEqual(error.code, 'EINVAL');
        assert.strictEqual(error.reason, 'nameTooLong');
        assert.strictEqual(error.summary, 'a name in the path is too long for the file system');
      });
    }

    it('hasOverlongName: a component over 255 bytes, or a path of 4096 bytes', function () {
      assert.strictEqual(hasOverlongName(`/d/${'n'.repeat(255)}`), false);
      assert.strictEqual(hasOverlongName(`/d/${'n'.repeat(256)}`), true);
      assert.strictEqual(hasOverlongName(`/d/${'é'.repeat(128)}`), true, 'bytes, not characters');
      assert.strictEqual(hasOverlongName(`/${'d/'.repeat(2048)}`), true);
    });
  });

  it('a reason-less system error keeps the step summary and the cause', function () {
    const cause = errnoError('ENOSPC');
    const error = localSystemError(cause, 'cannot write the local file', { host: 'h', path: '/x' });
    assert.strictEqual(error.summary, 'cannot write the local file');
    assert.strictEqual(error.cause, cause);
    assert.strictEqual(error.path, '/x');
    assert.strictEqual(error.reason, undefined);
  });
});
