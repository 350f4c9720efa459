/**
 * A file the CLI writes (`mnsim export -o`): written whole to a temporary file beside it, then
 * renamed into place, so that a reader never sees half a file and a failure leaves nothing behind
 * (rename(2) within one directory is atomic).
 */
import { MnsimError } from '@mnsim/errors';
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What an errno says about the path, when the path is what is wrong (exit 2). */
const PATH_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EEXIST: 'exists',
};

/** The output file cannot be written: exit 2 when the path is at fault, 3 when the disk is. */
export class OutputFileError extends MnsimError {
  constructor(
    readonly file: string,
    code: string | undefined,
  ) {
    const reason = code === undefined ? undefined : PATH_REASONS[code];
    // a path that cannot be written is the user's input; anything else is a failure
    super(
      `cannot write ${file}: ${reason ?? `${code ?? 'write failed'}`}`,
      reason === undefined ? 'failed' : 'bad-input',
    );
  }
}

/** Buffers lines and writes them in chunks of about a megabyte. */
export interface LineWriter {
  line(text: string): Promise<void>;
}

const CHUNK_CHARS = 1 << 20;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Calls `fill` with a writer into a temporary file in `file`'s directory; once it returns, flushes,
 * syncs and renames the temporary file to `file`. If anything throws, the temporary file is
 * removed and `file` is as it was.
 * @throws OutputFileError for a file that cannot be written; whatever `fill` throws
 */
export async function writeFileAtomically(
  file: string,
  fill: (out: LineWriter) => Promise<void>,
): Promise<void> {
  try {
    if ((await stat(file)).isDirectory()) throw new OutputFileError(file, 'EISDIR');
  } catch (err) {
    if (err instanceof OutputFileError) throw err;
    if (errnoOf(err) !== 'ENOENT') throw new OutputFileError(file, errnoOf(err));
  }
  const tmp = join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx');
  } catch (err) {
    throw new OutputFileError(file, errnoOf(err));
  }
  let pending = '';
  const flush = async (): Promise<void> => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    try {
      await handle.write(chunk);
    } catch (err) {
      throw new OutputFileError(file, errnoOf(err));
    }
  };
  let isOpen = true;
  try {
    await fill({
      line: async (text) => {
        pending += text + '\n';
        if (pending.length >= CHUNK_CHARS) await flush();
      },
    });
    await flush();
    try {
      await handle.sync();
      await handle.close();
      isOpen = false;
      await rename(tmp, file);
    } catch (err) {
      throw new OutputFileError(file, errnoOf(err));
    }
  } catch (err) {
    if (isOpen) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
