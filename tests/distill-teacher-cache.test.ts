/**
 * lib/distill/teacher-cache.ts: teacher logits stored in <name>.bin + <name>.json, verified on read.
 * Every test works in its own temporary folder.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import {
  buildTeacherCache,
  cachedTeacherLogits,
  hashDataset,
  hashTeacher,
  readTeacherCache,
  TeacherCacheError,
  teacherCachePaths,
  type TeacherCacheManifest,
  writeFileAtomic,
} from '../lib/distill/teacher-cache';
import { Rng } from '../lib/random';
import { expectNoLeakAsync } from './helpers/leak';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-teacher-cache-'));
let dir = '';
let counter = 0;

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});
beforeEach(() => {
  dir = path.join(root, `case-${counter++}`);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

// A stub teacher: logits = x W, with fixed seeded weights. [n, 4] x [4, 3] -> [n, 3]
const rng = new Rng(3);
const W = tf.tensor2d(Array.from({ length: 12 }, () => rng.normal()), [4, 3]);
const W2 = tf.tensor2d(Array.from({ length: 12 }, () => rng.normal()), [4, 3]);
const teacherA = (x: tf.Tensor) => tf.matMul(x, W);
const teacherB = (x: tf.Tensor) => tf.matMul(x, W2);
const data = tf.tensor2d(Array.from({ length: 10 * 4 }, () => rng.normal()), [10, 4]);
const data2 = tf.tensor2d(Array.from({ length: 10 * 4 }, () => rng.normal()), [10, 4]);
const optsA = () => ({ dir, name: 'digits-teacher', batchSize: 3, teacherWeights: [W] });
const optsB = () => ({ dir, name: 'digits-teacher', batchSize: 3, teacherWeights: [W2] });

function tmpFiles(): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

function fileSha(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function settle<T>(p: Promise<T>): Promise<unknown> {
  try {
    await p;
    return null;
  } catch (err) {
    return err;
  }
}

describe('teacher cache', () => {
  it('round trip: built once, then read back bit-identical, with a complete manifest', async () => {
    const first = await cachedTeacherLogits(teacherA, data, optsA());
    expect(first.status).toBe('built');
    const direct = teacherA(data);
    expect(Array.from(first.logits.dataSync())).toEqual(Array.from(direct.dataSync()));
    const second = await cachedTeacherLogits(teacherA, data, optsA());
    expect(second.status).toBe('hit');
    expect(Array.from(second.logits.dataSync())).toEqual(Array.from(direct.dataSync()));
    const m = second.manifest;
    const paths = teacherCachePaths(dir, 'digits-teacher');
    expect(m.shape).toEqual([10, 3]);
    expect(m.dtype).toBe('float32');
    expect(m.byteLength).toBe(10 * 3 * 4);
    expect(fs.statSync(paths.data).size).toBe(120);
    expect(m.dataSha256).toBe(fileSha(paths.data));
    expect(m.datasetSha256).toBe(hashDataset(data));
    expect(m.teacherSha256).toBe(hashTeacher([W]));
    expect(m.datasetShape).toEqual([10, 4]);
    expect(Number.isNaN(Date.parse(m.createdAt))).toBe(false);
    expect(tmpFiles()).toEqual([]);
    tf.dispose([first.logits, second.logits, direct]);
  });

  it('detects a flipped byte (sha256) and a truncated file (size), and rebuilds on request', async () => {
    const built = await buildTeacherCache(teacherA, data, optsA());
    built.logits.dispose();
    const { data: bin } = teacherCachePaths(dir, 'digits-teacher');
    const bytes = fs.readFileSync(bin);
    bytes[17] = (bytes[17] as number) ^ 0x01;
    fs.writeFileSync(bin, bytes);
    const err = await settle(cachedTeacherLogits(teacherA, data, optsA()));
    expect(err).toBeInstanceOf(TeacherCacheError);
    expect((err as TeacherCacheError).problem).toBe('corrupt');
    expect((err as Error).message).toMatch(/digits-teacher\.bin is corrupt: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}$/);
    const rebuilt = await cachedTeacherLogits(teacherA, data, { ...optsA(), rebuild: true });
    expect(rebuilt.status).toBe('rebuilt');
    expect(rebuilt.reason).toMatch(/is corrupt: sha256/);
    rebuilt.logits.dispose();
    fs.truncateSync(bin, 100);
    expect(() => readTeacherCache(dir, 'digits-teacher', { datasetSha256: hashDataset(data), teacherSha256: hashTeacher([W]) }))
      .toThrowError(/digits-teacher\.bin has 100 bytes, expected 120 \(shape \[10, 3\] float32\)$/);
  });

  it('refuses a stale cache (other dataset, other teacher), naming what differs; rebuild replaces it', async () => {
    (await buildTeacherCache(teacherA, data, optsA())).logits.dispose();
    const e1 = await settle(cachedTeacherLogits(teacherA, data2, optsA()));
    expect((e1 as TeacherCacheError).problem).toBe('stale');
    expect((e1 as Error).message).toMatch(/is stale: the dataset differs \(cache built for dataset sha256 [0-9a-f]{64}, this dataset is [0-9a-f]{64}\)$/);
    const e2 = await settle(cachedTeacherLogits(teacherB, data, optsB()));
    expect((e2 as TeacherCacheError).problem).toBe('stale');
    expect((e2 as Error).message).toMatch(/is stale: the teacher differs \(cache built for teacher sha256 [0-9a-f]{64}, this teacher is [0-9a-f]{64}\)$/);
    const e3 = await settle(cachedTeacherLogits(teacherB, data2, optsB()));
    expect((e3 as Error).message).toMatch(/the dataset differs .*; the teacher differs/);
    // A key instead of weights is compared as given.
    const e4 = await settle(cachedTeacherLogits(teacherA, data, { dir, name: 'digits-teacher', teacherKey: 'checkpoint-7' }));
    expect((e4 as Error).message).toMatch(/this teacher is checkpoint-7\)$/);
    const r = await cachedTeacherLogits(teacherB, data, { ...optsB(), rebuild: true });
    expect(r.status).toBe('rebuilt');
    expect(r.manifest.teacherSha256).toBe(hashTeacher([W2]));
    const direct = teacherB(data);
    expect(Array.from(r.logits.dataSync())).toEqual(Array.from(direct.dataSync()));
    tf.dispose([r.logits, direct]);
    expect((await cachedTeacherLogits(teacherB, data, optsB())).status).toBe('hit');
  });

  it('reports a missing part: data file without manifest, manifest without data file', async () => {
    (await buildTeacherCache(teacherA, data, optsA())).logits.dispose();
    const paths = teacherCachePaths(dir, 'digits-teacher');
    fs.renameSync(paths.manifest, `${paths.manifest}.away`);
    const e1 = await settle(cachedTeacherLogits(teacherA, data, optsA()));
    expect((e1 as TeacherCacheError).problem).toBe('missing');
    expect((e1 as Error).message).toMatch(/manifest .*digits-teacher\.json is missing \(the data file .*digits-teacher\.bin exists without it\)$/);
    fs.renameSync(`${paths.manifest}.away`, paths.manifest);
    fs.rmSync(paths.data);
    const e2 = await settle(cachedTeacherLogits(teacherA, data, optsA()));
    expect((e2 as Error).message).toMatch(/data file .*digits-teacher\.bin is missing \(its manifest exists\)$/);
    fs.writeFileSync(paths.manifest, '{ not json');
    const e3 = await settle(cachedTeacherLogits(teacherA, data, optsA()));
    expect((e3 as TeacherCacheError).problem).toBe('corrupt');
    expect((e3 as Error).message).toMatch(/is not valid JSON/);
  });

  it('a crash mid-write leaves the previous cache intact and no temporary file', async () => {
    (await buildTeacherCache(teacherA, data, optsA())).logits.dispose();
    const paths = teacherCachePaths(dir, 'digits-teacher');
    const before = { bin: fileSha(paths.data), json: fileSha(paths.manifest) };
    let sawPartial = 0;
    const crash = {
      afterPartialWrite: (tmp: string) => {
        sawPartial = fs.statSync(tmp).size; // half of the new bytes are on disk, in the temp file
        throw new Error('simulated crash');
      },
    };
    const err = await settle(buildTeacherCache(teacherB, data, { ...optsB(), testHooks: crash }));
    expect((err as Error).message).toBe('simulated crash');
    expect(sawPartial).toBe(60);
    expect(tmpFiles()).toEqual([]);
    expect(fileSha(paths.data)).toBe(before.bin);
    expect(fileSha(paths.manifest)).toBe(before.json);
    const hit = await cachedTeacherLogits(teacherA, data, optsA());
    expect(hit.status).toBe('hit');
    hit.logits.dispose();
  });

  it('a crash between the two renames (new .bin, old .json) is detected, never used silently', async () => {
    (await buildTeacherCache(teacherA, data, optsA())).logits.dispose();
    let calls = 0;
    const crashOnManifest = {
      afterPartialWrite: () => {
        if (++calls === 2) throw new Error('simulated crash writing the manifest');
      },
    };
    const err = await settle(buildTeacherCache(teacherB, data, { ...optsB(), testHooks: crashOnManifest }));
    expect((err as Error).message).toBe('simulated crash writing the manifest');
    const e = await settle(cachedTeacherLogits(teacherA, data, optsA()));
    expect((e as TeacherCacheError).problem).toBe('corrupt');
    expect(tmpFiles()).toEqual([]);
  });

  it('a teacher failing mid-run leaves the previous cache intact', async () => {
    (await buildTeacherCache(teacherA, data, optsA())).logits.dispose();
    const paths = teacherCachePaths(dir, 'digits-teacher');
    const before = fileSha(paths.data);
    let batches = 0;
    const flaky = (x: tf.Tensor) => {
      if (++batches === 2) throw new Error('teacher exploded');
      return teacherB(x);
    };
    const err = await settle(buildTeacherCache(flaky, data, optsB()));
    expect((err as Error).message).toBe('teacher exploded');
    expect(fileSha(paths.data)).toBe(before);
  });

  it('a LayersModel teacher: hash ignores layer names, changes with weights; the cache matches predict', async () => {
    const make = (seed: number) => {
      const m = tf.sequential();
      m.add(tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
      return m;
    };
    const m1 = make(11);
    const m2 = make(11); // same weights, different auto-generated layer names
    const m3 = make(12);
    expect(m1.layers[0]?.name).not.toBe(m2.layers[0]?.name);
    expect(hashTeacher(m1)).toBe(hashTeacher(m2));
    expect(hashTeacher(m1)).not.toBe(hashTeacher(m3));
    const built = await cachedTeacherLogits(m1, data, { dir, name: 'model' });
    const hit = await cachedTeacherLogits(m2, data, { dir, name: 'model' });
    expect(hit.status).toBe('hit');
    const direct = m1.predict(data) as tf.Tensor;
    expect(Array.from(hit.logits.dataSync())).toEqual(Array.from(direct.dataSync()));
    const e = await settle(cachedTeacherLogits(m3, data, { dir, name: 'model' }));
    expect((e as TeacherCacheError).problem).toBe('stale');
    tf.dispose([built.logits, hit.logits, direct]);
    [m1, m2, m3].forEach((m) => m.dispose());
  });

  it('rejects bad arguments and bad teacher outputs, naming them', async () => {
    const msg = async (p: Promise<unknown>) => ((await settle(p)) as Error).message;
    expect(await msg(cachedTeacherLogits(teacherA, data, { dir, name: 'x' })))
      .toMatch(/^a function teacher needs teacherWeights .* or teacherKey .*, got neither$/);
    expect(await msg(cachedTeacherLogits(teacherA, data, { dir, name: '../evil', teacherKey: 'k' })))
      .toMatch(/^name must be letters, digits, '\.', '_' or '-' \(not starting with '\.'\), got "\.\.\/evil"$/);
    expect(await msg(cachedTeacherLogits(teacherA, data, { dir, name: 'x', teacherKey: 'k', batchSize: 0 })))
      .toMatch(/^batchSize must be a positive integer, got 0$/);
    const wrongRows = (): tf.Tensor2D => tf.zeros([1, 3]);
    expect(await msg(buildTeacherCache(wrongRows, data, { dir, name: 'x', teacherKey: 'k', batchSize: 4 })))
      .toMatch(/^the teacher must return logits \[4, classes\] for the batch at examples \[0, 4\), got shape \[1, 3\]$/);
    const nanAt = (x: tf.Tensor) => tf.tidy<tf.Tensor2D>(() => tf.div(teacherA(x), tf.sub(tf.sum(x, 1, true), tf.sum(x, 1, true))));
    expect(await msg(buildTeacherCache(nanAt, data, { dir, name: 'x', teacherKey: 'k', batchSize: 4 })))
      .toMatch(/^the teacher returned NaN or Inf for the batch at examples \[0, 4\) \(flat index 0: -?(NaN|Infinity)\)$/);
  });

  it('leaks no tensors when building, hitting and rebuilding (only the returned logits remain)', async () => {
    await expectNoLeakAsync(async () => (await cachedTeacherLogits(teacherA, data, optsA())).logits, 'build');
    await expectNoLeakAsync(async () => (await cachedTeacherLogits(teacherA, data, optsA())).logits, 'hit');
    await expectNoLeakAsync(async () => (await cachedTeacherLogits(teacherB, data, { ...optsB(), rebuild: true })).logits, 'rebuild');
    const before = tf.memory().numTensors;
    await settle(cachedTeacherLogits(teacherA, data2, optsA()));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writeFileAtomic replaces a file and cleans up after a failure', () => {
    fs.mkdirSync(dir, { recursive: true });
    const f = path.join(dir, 'a.txt');
    writeFileAtomic(f, new TextEncoder().encode('one'));
    writeFileAtomic(f, new TextEncoder().encode('two'));
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(() => writeFileAtomic(f, new TextEncoder().encode('three'), { afterPartialWrite: () => { throw new Error('boom'); } })).toThrowError('boom');
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(tmpFiles()).toEqual([]);
  });
  it('two concurrent builders in two processes: neither deletes the other\'s temporary file', async () => {
    // Builder A (another process) stops with half of its .bin in its temporary file; builder B
    // (a third process) builds the same cache meanwhile; then A finishes. A must complete: its
    // temporary file is not B's leftover. Both build the same teacher, so the cache stays valid.
    fs.mkdirSync(dir, { recursive: true });
    const script = path.join(__dirname, 'helpers', 'cache-builder.cjs');
    const hold = path.join(dir, 'a-holds');
    const go = path.join(dir, 'a-go');
    const a = spawn(process.execPath, [script, dir, 'shared', hold, go], { stdio: ['ignore', 'ignore', 'pipe'] });
    let aErr = '';
    a.stderr.on('data', (d: Buffer) => { aErr += d.toString(); });
    const aExit = new Promise<number | null>((resolve) => a.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(hold)) {
      if (Date.now() > deadline) throw new Error(`builder A never reached its partial write: ${aErr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(tmpFiles().length).toBe(1); // A's half-written .bin
    const b = spawnSync(process.execPath, [script, dir, 'shared'], { encoding: 'utf8' });
    expect(b.status, `builder B: ${b.stderr}`).toBe(0);
    fs.writeFileSync(go, 'go');
    const code = await aExit;
    expect(aErr).not.toMatch(/builder failed/);
    expect(code, `builder A: ${aErr}`).toBe(0);
    expect(tmpFiles()).toEqual([]);
    const manifest = JSON.parse(fs.readFileSync(teacherCachePaths(dir, 'shared').manifest, 'utf8')) as TeacherCacheManifest;
    const read = readTeacherCache(dir, 'shared', { datasetSha256: manifest.datasetSha256, teacherSha256: 'shared-teacher' });
    expect(read.logits.shape).toEqual([64, 4]);
    read.logits.dispose();
  }, 120_000);

  it('removes a temporary file left by a writer that has exited, not one whose writer is alive', async () => {
    fs.mkdirSync(dir, { recursive: true });
    // A pid that is not running: a child that has already exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    const deadTmp = path.join(dir, `.digits-teacher.bin.${dead}.0badc0de.tmp`);
    const liveTmp = path.join(dir, `.digits-teacher.bin.${process.pid}.0badcafe.tmp`);
    fs.writeFileSync(deadTmp, 'left by a crashed writer');
    fs.writeFileSync(liveTmp, 'being written by a live writer');
    const built = await buildTeacherCache(teacherA, data, optsA());
    built.logits.dispose();
    expect(tmpFiles()).toEqual([path.basename(liveTmp)]);
    fs.rmSync(liveTmp);
  });
});
