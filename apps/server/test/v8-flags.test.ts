import { describe, expect, it } from 'vitest';
import { serverExecArgv } from '../src/v8-flags.js';

describe('serverExecArgv', () => {
  it('adds the young-generation cap to what the primary was started with', () => {
    expect(serverExecArgv(['--enable-source-maps'])).toEqual([
      '--enable-source-maps',
      '--max-semi-space-size=8',
    ]);
  });

  it('leaves a size given on the command line alone, in either spelling', () => {
    expect(serverExecArgv(['--max-semi-space-size=64'])).toEqual(['--max-semi-space-size=64']);
    expect(serverExecArgv(['--max_semi_space_size=16'])).toEqual(['--max_semi_space_size=16']);
  });
});
