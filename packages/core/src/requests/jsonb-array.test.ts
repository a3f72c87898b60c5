import { describe, expect, it } from 'vitest';
import { jsonbArrayBuilder } from './jsonb-array.ts';

const text = (b: Buffer) => b.subarray(1).toString('utf8');

describe('jsonbArrayBuilder', () => {
  it('is jsonb binary input: version byte 1, then the JSON array text', () => {
    const b = jsonbArrayBuilder();
    expect([...b.bytes()]).toEqual([1, ...Buffer.from('[]')]);
    b.push('{"a":1}');
    b.push('"x"');
    const out = b.bytes();
    expect(out[0]).toBe(1);
    expect(JSON.parse(text(out))).toEqual([{ a: 1 }, 'x']);
    expect(b.length).toBe(2);
  });

  it('grows past its first allocation with multi-byte text intact', () => {
    const b = jsonbArrayBuilder(8);
    const items = Array.from({ length: 300 }, (_, i) => ({
      i,
      s: `caf\u00e9 \u{1F600} ${'ß'.repeat(i)}`,
    }));
    for (const item of items) b.push(JSON.stringify(item));
    expect(JSON.parse(text(b.bytes()))).toEqual(items);
    // bytes() again after more pushes still closes the array at the right place
    b.push('null');
    expect(JSON.parse(text(b.bytes()))).toEqual([...items, null]);
  });
});

describe('jsonbArrayBuilder reuse', () => {
  it('reset() starts a new, empty array in the same memory', () => {
    const b = jsonbArrayBuilder();
    b.push('1');
    b.push('2');
    b.reset();
    expect(b.length).toBe(0);
    expect(JSON.parse(text(b.bytes()))).toEqual([]);
    b.push('"again"');
    expect(JSON.parse(text(b.bytes()))).toEqual(['again']);
  });
});

describe('jsonbArrayBuilder memory', () => {
  it('gives a huge batch memory back on reset; keeps an ordinary one', () => {
    const b = jsonbArrayBuilder();
    const big = JSON.stringify('x'.repeat(6 * 1024 * 1024)); // a body near the 20 MiB limit's scale
    b.push(big);
    // Sized exactly for a large ASCII body, not three bytes per character.
    expect(b.capacity).toBeLessThan(big.length * 2 + 64);
    expect(JSON.parse(text(b.bytes()))).toEqual([JSON.parse(big)]);
    b.reset();
    expect(b.capacity).toBeLessThanOrEqual(16 * 1024);
    expect(JSON.parse(text(b.bytes()))).toEqual([]);

    const ordinary = jsonbArrayBuilder();
    for (let i = 0; i < 200; i++) ordinary.push(JSON.stringify({ i, s: 'y'.repeat(500) }));
    const held = ordinary.capacity;
    ordinary.reset();
    expect(ordinary.capacity).toBe(held);
  });
});
