/**
 * lib/text: the character tokenizer (round trip, unknown tokens), the Alice corpus (hash, size),
 * the synthetic copy-reverse language (structure, entropy rate) and the seeded split.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALICE_SHA256, copyReverseLanguage, findDatasetFile, copyReverseOptimalLoss, loadAlice, sampleWindows, splitTokens } from '../lib/text/corpus';
import { CharTokenizer, type CharTokenizerJson } from '../lib/text/tokenizer';
import { Rng } from '../lib/random';

describe('CharTokenizer', () => {
  it('round-trips text, with ids in code-point order', () => {
    const tok = CharTokenizer.fromText('hello world');
    // Reference (hand): sorted distinct characters of 'hello world' are ' ', d, e, h, l, o, r, w
    expect(tok.chars).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(tok.encode('hello')).toEqual([3, 2, 4, 4, 5]);
    expect(tok.decode(tok.encode('world hello'))).toBe('world hello');
    expect(CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)) as CharTokenizerJson).encode('low')).toEqual(tok.encode('low'));
  });

  it('round-trips the whole of Alice (73 characters)', () => {
    const text = loadAlice();
    const tok = CharTokenizer.fromText(text);
    // Reference: datasets/alice/README.md (counted with Python: len(set(text)) = 73, 144395 bytes, ASCII)
    expect(tok.vocabSize).toBe(73);
    expect(text.length).toBe(144395);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('names an unknown character, its code point and position', () => {
    const tok = CharTokenizer.fromText('abc');
    expect(() => tok.encode('abé')).toThrowError(/unknown token: character 'é' \(U\+00E9\) at position 2 is not in the vocabulary of 3 characters/);
    expect(() => tok.decode([0, 3])).toThrowError(/unknown token: ids\[1\] must be an integer in \[0, 3\), got 3/);
    expect(() => tok.decode([0.5])).toThrowError(/ids\[0\] must be an integer in \[0, 3\), got 0\.5/);
    expect(() => new CharTokenizer(['a', 'a'])).toThrowError(/chars\[1\] repeats 'a'/);
    expect(() => new CharTokenizer(['ab'])).toThrowError(/chars\[0\] must be one character, got "ab"/);
  });
});

describe('corpora', () => {
  it('loadAlice checks the SHA-256', () => {
    expect(loadAlice().startsWith("[Alice's Adventures in Wonderland by Lewis Carroll 1865]")).toBe(true);
    expect(() => loadAlice({ sha256: '0'.repeat(64) })).toThrowError(new RegExp(`has sha256 ${ALICE_SHA256}, expected 0{64}`));
  });

  it('copy-reverse lines are a word, =, the word reversed; seeded', () => {
    const text = copyReverseLanguage({ lines: 200, seed: 3 });
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(200);
    for (const l of lines) {
      const [w, r] = l.split('=') as [string, string];
      expect(w).toMatch(/^[a-h]{4}$/);
      expect(r).toBe([...w].reverse().join(''));
    }
    expect(copyReverseLanguage({ lines: 200, seed: 3 })).toBe(text);
    expect(copyReverseLanguage({ lines: 200, seed: 4 })).not.toBe(text);
    // Reference (hand): 4 free letters of 8 per 10-character line: 4 ln 8 / 10 = 0.8317766166719343
    expect(copyReverseOptimalLoss()).toBeCloseTo(0.8317766166719343, 12);
    expect(() => copyReverseLanguage({ lines: 0, seed: 1 })).toThrowError(/lines must be a positive integer, got 0/);
  });

  it('datasets/copy-reverse/copy-reverse.txt is the output of the generator (seed 2026, 2000 lines)', () => {
    const file = findDatasetFile(path.join('datasets', 'copy-reverse', 'copy-reverse.txt'));
    const bytes = fs.readFileSync(file);
    // Reference: datasets/copy-reverse/README.md
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('29a788fecd7f9c66c3970f9e30c4a270a94809c41f9aac5c0682a35af0d403a3');
    expect(bytes.toString('utf8')).toBe(copyReverseLanguage({ lines: 2000, seed: 2026 }));
  });

  it('splitTokens: seeded, disjoint chunks, sizes add up', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const a = splitTokens(ids, { valFraction: 0.1, chunk: 50, seed: 7 });
    const b = splitTokens(ids, { valFraction: 0.1, chunk: 50, seed: 7 });
    const c = splitTokens(ids, { valFraction: 0.1, chunk: 50, seed: 8 });
    expect(Array.from(a.val)).toEqual(Array.from(b.val));
    expect(Array.from(a.val)).not.toEqual(Array.from(c.val));
    // Reference (hand): 20 chunks of 50, 10% = 2 chunks = 100 validation tokens
    expect(a.val.length).toBe(100);
    expect(a.train.length + a.val.length).toBe(1000);
    const inVal = new Set(a.val);
    expect(Array.from(a.train).some((x) => inVal.has(x))).toBe(false);
    expect(a.val[0]! % 50).toBe(0); // a validation part starts at a chunk boundary
    expect(() => splitTokens(ids, { valFraction: 1, chunk: 50, seed: 1 })).toThrowError(/valFraction must be in \(0, 1\), got 1/);
    expect(() => splitTokens(ids, { valFraction: 0.01, chunk: 500, seed: 1 })).toThrowError(/leaves an empty part/);
  });

  it('sampleWindows draws consecutive tokens', () => {
    const ids = Int32Array.from({ length: 100 }, (_, i) => i);
    const w = sampleWindows(ids, 3, 5, new Rng(1));
    for (let r = 0; r < 3; r++) for (let j = 1; j < 5; j++) expect(w[r * 5 + j]).toBe(w[r * 5]! + j);
    expect(() => sampleWindows(ids, 1, 101, new Rng(1))).toThrowError(/ids has 100 tokens, fewer than the window length 101/);
  });
});
