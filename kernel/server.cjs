// The Jupyter side: tslab's ZmqServer (sockets, heartbeat, status messages, the replies it
// already gets right), with message parsing and dispatch redone so that the kernel can answer
// what tslab leaves unanswered (history_request, interrupt_request) and send the execute
// messages tslab never sends (execute_input, execute_result, error). tslab's message class is
// private to its module, so `WireMessage` below implements the same wire format (a copy of
// tslab's ZmqMessage, which follows the Jupyter messaging spec's "wire protocol" section).
'use strict';
const { createHmac, randomBytes, timingSafeEqual } = require('node:crypto');

const DELIM = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

class WireMessage {
  /** Parses and verifies the frames of a message received on a ROUTER socket. */
  static fromRaw(key, frames) {
    const msg = new WireMessage();
    const d = frames.findIndex((f) => f.equals(DELIM));
    if (d < 0) throw new Error('message missing delimiter');
    msg.identity = frames.slice(0, d);
    const hmac = frames[d + 1].toString();
    const parts = frames.slice(d + 2);
    if (key) {
      const h = createHmac('sha256', key);
      for (const p of parts.slice(0, 4)) h.update(p);
      const want = Buffer.from(h.digest('hex'));
      const got = Buffer.from(hmac);
      if (want.length !== got.length || !timingSafeEqual(want, got)) throw new Error('invalid hmac');
    }
    msg.header = JSON.parse(parts[0].toString());
    msg.parent = JSON.parse(parts[1].toString());
    msg.metadata = JSON.parse(parts[2].toString());
    msg.content = JSON.parse(parts[3].toString());
    msg.extra = parts.slice(4);
    return msg;
  }

  /** A message with this one as parent, to the same identities (replies and IOPub alike). */
  createReply() {
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
    rep.metadata = {};
    rep.content = {};
    rep.extra = [];
    return rep;
  }

  signAndSend(key, sock) {
    const bodies = [this.header, this.parent, this.metadata, this.content, ...this.extra].map((x) => JSON.stringify(x));
    const h = createHmac('sha256', key);
    for (const b of bodies) h.update(b);
    sock.send([...this.identity, DELIM, key ? h.digest('hex') : '', ...bodies]);
  }
}

/** @param {typeof import('tslab/dist/jupyter').ZmqServer} Base tslab's server class */
function defineServer(Base) {
  class CourseServer extends Base {
    /**
     * @param {object} handler the CourseHandler
     * @param {string} configPath the connection file
     * @param {(line: string) => void} log the kernel's own log (its real stderr)
     */
    constructor(handler, configPath, log) {
      super(handler, configPath);
      this.log = log;
    }

    reply(sock, msg, type, content) {
      const r = msg.createReply();
      r.header.msg_type = type;
      r.content = content;
      r.signAndSend(this.connInfo.key, sock);
    }

    async handleShellMessage(sock, ...frames) {
      let msg;
      try {
        msg = WireMessage.fromRaw(this.connInfo.key, frames);
      } catch (e) {
        this.log(`dropped a message: ${e.message}`);
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
            this.reply(sock, msg, 'history_reply', this.handler.handleHistory(msg.content));
            break;
          case 'comm_info_request':
            this.reply(sock, msg, 'comm_info_reply', { status: 'ok', comms: {} });
            break;
          case 'interrupt_request':
            this.handler.interrupt();
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
        this.log(`${type} failed: ${e?.stack ?? e}`);
        if (type.endsWith('_request') && type !== 'execute_request') {
          this.reply(sock, msg, type.replace(/_request$/, '_reply'), {
            status: 'error',
            ename: e?.name ?? 'Error',
            evalue: String(e?.message ?? e),
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

    async handleExecute(sock, msg) {
      const io = {
        publish: (type, content) => this.reply(this.iopub, msg, type, content),
      };
      const content = await this.handler.execute(msg.content, io);
      this.reply(sock, msg, 'execute_reply', content);
    }
  }
  return CourseServer;
}

module.exports = { defineServer, WireMessage };
