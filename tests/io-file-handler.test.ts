/**
 * lib/io/file-handler.ts: model.save('file://…') and tf.loadLayersModel('file://…') in plain tfjs.
 * Exact round trip, tfjs-node's layout, atomic writes, and clear errors naming the file at fault.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { FileHandler, filePathOf, MODEL_JSON, ModelFileError, registerFileHandler, WEIGHTS_BIN } from '../lib/io/file-handler';
import { fromFloat16, toFloat16 } from '../lib/compress/quantize';
import { mlp } from '../lib/models/mlp';
import { Rng } from '../lib/random';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-io-'));
let counter = 0;
const fresh = () => path.join(root, `m${counter++}`);

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
  registerFileHandler();
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function model(): tf.Sequential {
  return mlp({ inputs: 5, hidden: [4, 3], outputs: 2, dropout: 0.1, rng: new Rng(1), name: 'm' });
}

async function savedModel(): Promise<{ dir: string; m: tf.Sequential }> {
  const dir = fresh();
  const m = model();
  await m.save(`file://${dir}`);
  return { dir, m };
}

describe('file:// handler', () => {
  it('round-trips weights bit for bit and predictions exactly, loading the folder or model.json', async () => {
    const { dir, m } = await savedModel();
    expect(fs.readdirSync(dir).sort()).toEqual([MODEL_JSON, WEIGHTS_BIN]);
    for (const url of [`file://${dir}/${MODEL_JSON}`, `file://${dir}`]) {
      const back = await tf.loadLayersModel(url);
      expect(back.name).toBe('m');
      expect(back.weights.length).toBe(m.weights.length);
      back.weights.forEach((w, i) => {
        const a = w.read().dataSync();
        const b = m.weights[i]!.read().dataSync();
        expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
      });
      const x = tf.randomNormal([7, 5], 0, 1, 'float32', 3);
      const [p, q] = [m.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor];
      expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
      tf.dispose([x, p, q]);
      back.dispose();
    }
    m.dispose();
  });

  it('writes tfjs-node\'s layout: model.json names ./weights.bin, whose size is the sum of the weights', async () => {
    const { dir, m } = await savedModel();
    const json = JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
    expect(json.weightsManifest[0]?.paths).toEqual(['./weights.bin']);
    expect(json.format).toBe('layers-model');
    // Reference: (5*4+4) + (4*3+3) + (3*2+2) = 47 float32 parameters = 188 bytes
    expect(fs.statSync(path.join(dir, WEIGHTS_BIN)).size).toBe(188);
    m.dispose();
  });

  it('float16 weights: half the bytes, loaded by plain tf.loadLayersModel, each weight rounded to float16', async () => {
    const m = model();
    const dir = fresh();
    await m.save(new FileHandler(dir, { weights: 'float16' }));
    // Reference: 47 weights × 2 bytes
    expect(fs.statSync(path.join(dir, WEIGHTS_BIN)).size).toBe(94);
    const json = JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
    expect(json.weightsManifest[0]?.weights[0]?.quantization).toEqual({ dtype: 'float16' });
    const back = await tf.loadLayersModel(`file://${dir}`);
    back.weights.forEach((w, i) => {
      const original = m.weights[i]!.read().dataSync();
      expect(Array.from(w.read().dataSync())).toEqual(Array.from(fromFloat16(toFloat16(original))));
    });
    expect(() => new FileHandler(dir, { weights: 'int8' as 'float16' })).toThrow(/weights must be 'float32' or 'float16', got "int8"/);
    back.dispose();
    m.dispose();
  });

  it('leaves no temporary file behind and overwrites an older save in place', async () => {
    const { dir, m } = await savedModel();
    const other = mlp({ inputs: 5, hidden: [4, 3], outputs: 2, rng: new Rng(2), name: 'm' });
    await other.save(`file://${dir}`);
    expect(fs.readdirSync(dir).sort()).toEqual([MODEL_JSON, WEIGHTS_BIN]);
    const back = await tf.loadLayersModel(`file://${dir}`);
    expect(Array.from(back.weights[0]!.read().dataSync())).toEqual(Array.from(other.weights[0]!.read().dataSync()));
    [m, other, back].forEach((x) => x.dispose());
  });

  it('a truncated weights.bin fails with an error naming it', async () => {
    const { dir, m } = await savedModel();
    const bin = path.join(dir, WEIGHTS_BIN);
    fs.truncateSync(bin, 100);
    await expect(tf.loadLayersModel(`file://${dir}`)).rejects.toThrow(new RegExp(`${bin}: has 100 bytes, model.json records 188: truncated or corrupt`));
    m.dispose();
  });

  it('a flipped byte in weights.bin fails with an error naming it (SHA-256)', async () => {
    const { dir, m } = await savedModel();
    const bin = path.join(dir, WEIGHTS_BIN);
    const bytes = fs.readFileSync(bin);
    bytes[17] = (bytes[17] ?? 0) ^ 0x40;
    fs.writeFileSync(bin, bytes);
    await expect(tf.loadLayersModel(`file://${dir}`)).rejects.toThrow(new RegExp(`${bin}: SHA-256 differs.*corrupt`));
    m.dispose();
  });

  it('a truncated model.json fails with an error naming it', async () => {
    const { dir, m } = await savedModel();
    const json = path.join(dir, MODEL_JSON);
    const text = fs.readFileSync(json, 'utf8');
    fs.writeFileSync(json, text.slice(0, text.length / 2));
    const err = await tf.loadLayersModel(`file://${json}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as ModelFileError).file).toBe(json);
    expect((err as Error).message).toMatch(/model\.json: is not valid JSON, truncated or corrupt\?/);
    m.dispose();
  });

  it('a missing weights file or model.json fails naming the file', async () => {
    const { dir, m } = await savedModel();
    fs.rmSync(path.join(dir, WEIGHTS_BIN));
    await expect(tf.loadLayersModel(`file://${dir}`)).rejects.toThrow(new RegExp(`${path.join(dir, WEIGHTS_BIN)}: cannot read weights named in`));
    await expect(tf.loadLayersModel(`file://${path.join(root, 'nowhere')}`)).rejects.toThrow(/nowhere\/model\.json: cannot read/);
    m.dispose();
  });

  it('a JSON file that is not a model says so', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, MODEL_JSON), '{"hello": 1}');
    await expect(new FileHandler(dir).load()).rejects.toThrow(/model\.json: has no modelTopology field/);
  });

  it('validates the url', () => {
    expect(() => filePathOf('http://x')).toThrow(/url must start with file:\/\/, got "http:\/\/x"/);
    expect(() => filePathOf('file://')).toThrow(/url must name a path after file:\/\//);
    expect(filePathOf('file:///a/b')).toBe('/a/b');
  });

  it('steps aside when another handler answers file:// (as tfjs-node\'s does)', async () => {
    const { dir, m } = await savedModel();
    const url = `file://${dir}`;
    expect(tf.io.getLoadHandlers(url).length).toBe(1);
    let used = 0;
    const other: tf.io.IOHandler = {
      load: async () => {
        used++;
        return new FileHandler(dir).load();
      },
    };
    // A second router for this one folder only, so that the other tests are unaffected.
    tf.io.registerLoadRouter(((u: string | string[]) => (u === url ? other : null)) as (u: string | string[]) => tf.io.IOHandler);
    expect(tf.io.getLoadHandlers(url)).toEqual([other]);
    const back = await tf.loadLayersModel(url);
    expect(used).toBe(1);
    back.dispose();
    m.dispose();
  });

  it('saving and loading leak no tensor', async () => {
    const m = model();
    const dir = fresh();
    const before = tf.memory().numTensors;
    await m.save(`file://${dir}`);
    expect(tf.memory().numTensors).toBe(before);
    const back = await tf.loadLayersModel(`file://${dir}`);
    back.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
