// The Jupyter side: tslab's ZmqServer (sockets, heartbeat, status messages, the replies it
// already gets right), with message parsing and dispatch redone so that the kernel can answer
// what tslab leaves unanswered (history_request, interrupt_request) and send the execute
// messages tslab never sends (execute_input, execute_result, error). tslab's message class is
// private to its module, so `WireMessage` below implements the same wire format (a copy of
// tslab's ZmqMessage, which follows the Jupyter messaging spec's "wire protocol" section).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ZmqServer } from 'tslab/dist/jupyter';
import type { CourseHandlerInstance, Publisher } from './handler';
import type { HistoryRequest } from './history';

const DELIM = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

/** A message header (the Jupyter messaging spec's). */
interface Header {
  version: string;
  date: string;
  session: string;
  username: string;
  msg_type: string;
  msg_id: string;
}

/** What `signAndSend` needs of a socket. */
interface Sendable {
  send(frames: (Buffer | string)[]): unknown;
}

export class WireMessage {
  identity: Buffer[] = [];
  header = {} as Header;
  parent: Header | Record<string, never> = {};
  metadata: Record<string, unknown> = {};
  content: Record<string, unknown> = {};
  extra: Buffer[] = [];

  /** Parses and verifies the frames of a message received on a ROUTER socket. */
  static fromRaw(key: string, frames: readonly Buffer[]): WireMessage {
    const msg = new WireMessage();
    const d = frames.findIndex((f) => f.equals(DELIM));
    if (d < 0) throw new Error('message missing delimiter');
    msg.identity = frames.slice(0, d);
    const hmac = String(frames[d + 1] ?? '');
    const parts = frames.slice(d + 2);
    if (parts.length < 4) throw new Error(`message has ${parts.length} parts after the signature, expected at least 4`);
    if (key) {
      const h = createHmac('sha256', key);
      for (const p of parts.slice(0, 4)) h.update(p);
      const want = Buffer.from(h.digest('hex'));
      const got = Buffer.from(hmac);
      if (want.length !== got.length || !timingSafeEqual(want, got)) throw new Error('invalid hmac');
    }
    const json = (i: number): unknown => JSON.parse(String(parts[i]));
    msg.header = json(0) as Header;
    msg.parent = json(1) as Header;
    msg.metadata = json(2) as Record<string, unknown>;
    msg.content = json(3) as Record<string, unknown>;
    msg.extra = parts.slice(4);
    return msg;
  }

  /** A message with this one as parent, to the same identities (replies and IOPub alike). */
  createReply(): WireMessage {
    const rep = new WireMessage();
    rep.identity = this.identity;
    rep.header = {
      version: PROTOCOL_VERSION,
      date: new Date().toISOString(),
      session: this.header.session,
      username: this.header.username,
      msg_type: this.header.msg_type,
      msg_id: randomBytes(16).toString('hex'),
    };
    rep.parent = this.header;
    return rep;
  }

  signAndSend(key: string, sock: Sendable): void {
    const bodies = [this.header, this.parent, this.metadata, this.content, ...this.extra].map((x) => JSON.stringify(x));
    const h = createHmac('sha256', key);
    for (const b of bodies) h.update(b);
    sock.send([...this.identity, DELIM, key ? h.digest('hex') : '', ...bodies]);
  }
}

/**
 * A view of a zeromq socket whose `send` waits for the previous send. zeromq 6 allows one send
 * in progress per socket and rejects a second with "Socket is busy writing; only one send
 * operation may be in progress at any time". tslab (and this kernel) send without awaiting, so a
 * burst of output (a live progress display) on a loaded machine lost a message and failed the
 * running cell with that error. Through the view every message leaves, in order.
 *
 * zeromq's sockets are sealed objects with a read-only `send`, so they cannot be patched: the
 * view is a Proxy that answers `send` itself and forwards everything else, bound to the socket.
 */
export function withQueuedSends<T extends Sendable>(sock: T): T {
  const send = sock.send.bind(sock);
  let tail: Promise<unknown> = Promise.resolve();
  const queued = (frames: (Buffer | string)[]): Promise<unknown> => {
    const p = tail.then(() => send(frames));
    tail = p.catch(() => undefined);
    return p;
  };
  return new Proxy(sock, {
    get(target, prop) {
      if (prop === 'send') return queued;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** tslab's ZmqServer with the members it declares private or loosely typed, as used here. */
interface ServerBase {
  connInfo: { key: string };
  iopub: Sendable;
  shell: Sendable;
  control: Sendable;
  stdin: Sendable;
  hb: Sendable;
  bindSocket(sock: Sendable, port: number): Promise<void>;
  publishStatus(status: string, parent: WireMessage): void;
  handleKernelInfo(sock: Sendable, msg: WireMessage): void;
  handleIsComplete(sock: Sendable, msg: WireMessage): void;
  handleInspect(sock: Sendable, msg: WireMessage): void;
  handleComplete(sock: Sendable, msg: WireMessage): void;
  handleShutdown(sock: Sendable, msg: WireMessage): void;
  init(): Promise<void>;
  close(): void;
}

/** The server class `defineServer` returns. */
export type CourseServerClass = new (handler: CourseHandlerInstance, configPath: string, log: (line: string) => void) => ServerBase;

/** @param Base tslab's server class */
export function defineServer(Base: typeof ZmqServer): CourseServerClass {
  const B = Base as unknown as new (handler: CourseHandlerInstance, configPath: string) => ServerBase;
  class CourseServer extends B {
    constructor(
      private readonly course: CourseHandlerInstance,
      configPath: string,
      private readonly log: (line: string) => void,
    ) {
      super(course, configPath);
    }

    /**
     * IOPub is a zeromq PUB socket, which drops (silently) what it sends past its send
     * high-water mark: 1000 messages queued by default. A synchronous loop of 1000 progress
     * updates lost about 6 of them and, on a loaded machine, the cell's `idle` status, so the
     * front end waited for ever (tests/kernel DisplayBurstTests). With no mark (0) IOPub
     * queues everything until the client reads it. The option only counts for connections made
     * after it is set, so it is set here, before tslab's init binds the socket.
     */
    override async bindSocket(sock: Sendable, port: number): Promise<void> {
      if (sock === this.iopub) (sock as Sendable & { sendHighWaterMark: number }).sendHighWaterMark = 0;
      await super.bindSocket(sock, port);
    }

    override async init(): Promise<void> {
      await super.init();
      // Replies go to the socket handleShellMessage is given, which tslab's receive loops read
      // from these fields at each message; IOPub messages go through this.iopub.
      this.iopub = withQueuedSends(this.iopub);
      this.shell = withQueuedSends(this.shell);
      this.control = withQueuedSends(this.control);
      this.stdin = withQueuedSends(this.stdin);
    }

    reply(sock: Sendable, msg: WireMessage, type: string, content: object): void {
      const r = msg.createReply();
      r.header.msg_type = type;
      r.content = content as Record<string, unknown>;
      r.signAndSend(this.connInfo.key, sock);
    }

    async handleShellMessage(sock: Sendable, ...frames: Buffer[]): Promise<void> {
      let msg: WireMessage;
      try {
        msg = WireMessage.fromRaw(this.connInfo.key, frames);
      } catch (e) {
        this.log(`dropped a message: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      const type = msg.header.msg_type;
      let terminated = false;
      this.publishStatus('busy', msg);
      try {
        switch (type) {
          case 'kernel_info_request':
            this.handleKernelInfo(sock, msg);
            break;
          case 'execute_request':
            await this.handleExecute(sock, msg);
            break;
          case 'is_complete_request':
            this.handleIsComplete(sock, msg);
            break;
          case 'inspect_request':
            this.handleInspect(sock, msg);
            break;
          case 'complete_request':
            this.handleComplete(sock, msg);
            break;
          case 'history_request':
            this.reply(sock, msg, 'history_reply', this.course.handleHistory(msg.content as unknown as HistoryRequest));
            break;
          case 'comm_info_request':
            this.reply(sock, msg, 'comm_info_reply', { status: 'ok', comms: {} });
            break;
          case 'interrupt_request':
            this.course.interrupt();
            this.reply(sock, msg, 'interrupt_reply', { status: 'ok' });
            break;
          case 'shutdown_request':
            this.handleShutdown(sock, msg);
            terminated = true;
            break;
          default:
            this.log(`unknown msg_type: ${type}`);
        }
      } catch (e) {
        // A failing inspect/complete must not look like an error of the running cell.
        this.log(`${type} failed: ${e instanceof Error ? e.stack : String(e)}`);
        if (type.endsWith('_request') && type !== 'execute_request') {
          this.reply(sock, msg, type.replace(/_request$/, '_reply'), {
            status: 'error',
            ename: e instanceof Error ? e.name : 'Error',
            evalue: e instanceof Error ? e.message : String(e),
            traceback: [],
          });
        }
      } finally {
        this.publishStatus('idle', msg);
      }
      if (terminated) {
        // Let the reply leave before the sockets close; then exit even if a library keeps
        // the event loop alive (a renderer process, a timer).
        setTimeout(() => {
          this.close();
          setTimeout(() => process.exit(0), 100).unref();
        }, 50);
      }
    }

    async handleExecute(sock: Sendable, msg: WireMessage): Promise<void> {
      const io: Publisher = {
        publish: (type, content) => this.reply(this.iopub, msg, type, content),
      };
      const content = await this.course.execute(msg.content, io);
      this.reply(sock, msg, 'execute_reply', content);
    }
  }
  return CourseServer;
}
