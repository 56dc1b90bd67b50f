/**
 * A character-level tokenizer: one token per distinct character of a training text, ids in the
 * order of the sorted characters (code-point order), so the same text always gives the same ids.
 *
 * Character level keeps the vocabulary tiny (73 tokens for Alice), which keeps the output head of
 * the tiny LM cheap; the price is long sequences (one token per letter).
 */

/** The serialisable form of a {@link CharTokenizer}: its characters in id order. */
export interface CharTokenizerJson {
  /** Always `'char'`. */
  kind: 'char';
  /** The vocabulary: `chars[id]` is the character of token `id`. */
  chars: string[];
}

/** Describes a character for error messages: `'é' (U+00E9)`. */
function describeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const shown = c === '\n' ? '\\n' : c === '\t' ? '\\t' : c;
  return `'${shown}' (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export class CharTokenizer {
  /** `chars[id]` is the character of token `id`. */
  readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  /**
   * @param chars the vocabulary in id order; each entry one character (one code point), no repeats.
   * @throws Error naming the entry when one is not a single character or repeats an earlier one.
   */
  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new Error('chars must hold at least one character, got an empty list');
    this.index = new Map();
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new Error(`chars[${i}] must be one character, got ${JSON.stringify(c)}`);
      if (this.index.has(c)) throw new Error(`chars[${i}] repeats ${describeChar(c)} (already token ${this.index.get(c)})`);
      this.index.set(c, i);
    });
    this.chars = [...chars];
  }

  /** The tokenizer whose vocabulary is the distinct characters of `text`, sorted by code point. */
  static fromText(text: string): CharTokenizer {
    const set = [...new Set([...text])].sort((a, b) => (a.codePointAt(0) ?? 0) - (b.codePointAt(0) ?? 0));
    return new CharTokenizer(set);
  }

  /** Rebuilds a tokenizer saved with {@link toJSON}. */
  static fromJSON(json: CharTokenizerJson): CharTokenizer {
    if (json.kind !== 'char') throw new Error(`kind must be 'char', got ${JSON.stringify(json.kind)}`);
    return new CharTokenizer(json.chars);
  }

  /** Number of tokens. */
  get vocabSize(): number {
    return this.chars.length;
  }

  /** True when `c` (one character) has a token. */
  has(c: string): boolean {
    return this.index.has(c);
  }

  /**
   * Token ids of `text`, one per character.
   * @throws Error naming the first unknown character, its code point and its position.
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    let pos = 0;
    for (const c of text) {
      const id = this.index.get(c);
      if (id === undefined) {
        throw new Error(`unknown token: character ${describeChar(c)} at position ${pos} is not in the vocabulary of ${this.vocabSize} characters`);
      }
      ids.push(id);
      pos++;
    }
    return ids;
  }

  /**
   * The text of token ids.
   * @throws Error naming the first id that is not an integer in [0, vocabSize).
   */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const c = Number.isInteger(id) ? this.chars[id] : undefined;
      if (c === undefined) throw new Error(`unknown token: ids[${i}] must be an integer in [0, ${this.vocabSize}), got ${id}`);
      s += c;
    }
    return s;
  }

  /** The serialisable form (JSON.stringify-able). */
  toJSON(): CharTokenizerJson {
    return { kind: 'char', chars: [...this.chars] };
  }
}
