import { describe, expect, it } from 'vitest';
import { jsonDeeperThan } from './json-depth.ts';

describe('jsonDeeperThan', () => {
  it('counts object and array nesting', () => {
    expect(jsonDeeperThan('[[[[1]]]]', 4)).toBe(false);
    expect(jsonDeeperThan('[[[[[1]]]]]', 4)).toBe(true);
    expect(jsonDeeperThan('{"a":{"b":{"c":{"d":{}}}}}', 4)).toBe(true);
    expect(jsonDeeperThan('[[1],[2],[3],[4],[5],[6]]', 2)).toBe(false);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(jsonDeeperThan('["[[[[[[[[[[", "\\"[[[[[[", "\\\\"]', 2)).toBe(false);
    expect(jsonDeeperThan('["\\\\", [[[1]]]]', 3)).toBe(true);
  });

  it('leaves unterminated strings to JSON.parse', () => {
    expect(jsonDeeperThan('["[[[[[[[[[[[[', 2)).toBe(false);
  });
});
