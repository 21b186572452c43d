// One live socket client for the widget (/ws/chat/) and the console (/ws/console/).
//
// Both servers greet a new socket with a `hello` (the state as it stands; the chat's carries the
// thread's `seq`) and answer {"type": "ping"} with a pong. So this client: counts the socket usable
// once the hello arrives, and drops it if none comes; pings while connected, and drops a socket
// that stays silent after a ping (a half-open connection shows only as silence); reconnects with
// exponential backoff and jitter, at once when the browser comes back online or the tab is shown
// again, and never sooner than a server's "retry after"; stops for good on a fatal refusal. After
// a reconnect the new hello is the state to resume from: events whose seq it already covers are
// dropped, except the types the page de-duplicates itself (`replaySafe`).
// This file is ASCII only: the widget loads it, on shops' pages, from another origin.

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const HELLO_TIMEOUT_MS = 15000;
const FIRST_RETRY_MS = 1000;
const MAX_BACKOFF_MS = 30000;

/** Why a connection failed: `fatal` stops retrying, `retryAfterMs` holds retries off that long. */
export class Refusal extends Error {
  constructor(code, message = "", { retryAfterMs = 0, fatal = false } = {}) {
    super(message);
    Object.assign(this, { code, retryAfterMs, fatal });
  }
}

/** The ws: or wss: URL of `path` on `origin` (an http(s) origin), with an optional query. */
export function socketUrl(origin, path, query = "") {
  const url = new URL(path, origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = query;
  return url.href;
}

export class LiveSocket {
  /**
   * url(): where to connect, asked before every attempt (so it can fetch a fresh ticket); a
   *   Refusal it throws counts as a failed attempt.
   * onEvent(event): each event from the server, the hello first.
   * onChange(status): status is {phase, everConnected, attempts, refusal}; phase is "connecting"
   *   (an attempt is under way), "live" (after the hello's onEvent), "retrying" (an attempt
   *   failed; the next is scheduled) or "stopped" (a fatal refusal: no more attempts).
   * refusalFor(closeCode): what the server closing with that code means, as a Refusal; null (the
   *   default) reconnects.
   * replaySafe: event types delivered even when the hello already covered them.
   */
  constructor({ url, onEvent, onChange = () => {}, refusalFor = () => null, replaySafe = [] }) {
    Object.assign(this, { url, onEvent, onChange, refusalFor });
    this.replaySafe = new Set(replaySafe);
    this.socket = null;
    this.ready = false; // the hello arrived: messages can go out
    this.started = false;
    this.connecting = false;
    this.everConnected = false;
    this.attempts = 0;
    this.helloSeq = 0;
    this.holdUntil = 0; // a server's "retry after": no early retries before it
    this.stopped = null; // the fatal Refusal, once there was one
    this.timers = { retry: 0, ping: 0, pong: 0, hello: 0 };
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  /** Connect, unless connected, connecting or stopped. */
  start() {
    if (this.socket || this.connecting || this.stopped) return;
    this.started = true;
    this.connecting = true;
    clearTimeout(this.timers.retry);
    this.report("connecting");
    Promise.resolve()
      .then(() => this.url())
      .then((url) => this.open(url))
      .catch((error) => {
        this.connecting = false;
        this.fail(error instanceof Refusal ? error : new Refusal("unavailable", ""));
      });
  }

  /** Start over after a fatal refusal or on purpose: drop the socket, forget the backoff, connect. */
  restart() {
    this.stopped = null;
    if (this.socket) this.drop(this.socket);
    this.attempts = 0;
    this.retryNow();
  }

  /** Retry now instead of waiting out the backoff (not before a server's "retry after"). */
  retryNow() {
    if (!this.started || this.socket || this.connecting || this.stopped || Date.now() < this.holdUntil) return;
    this.start();
  }

  /** Send `message` as JSON if the socket is usable; false if it is not (nothing is queued). */
  send(message) {
    if (!this.socket || !this.ready || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  // --- the socket's life -------------------------------------------------------------------------

  open(url) {
    const socket = new WebSocket(url);
    this.socket = socket;
    // A proxy can hold a socket open without ever passing anything through.
    this.timers.hello = setTimeout(() => this.drop(socket, new Refusal("no_hello")), HELLO_TIMEOUT_MS);
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      clearTimeout(this.timers.pong); // anything at all shows the connection is alive
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message === "object") this.receive(message);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return; // already dropped
      this.drop(socket, this.refusalFor(event.code) || new Refusal("closed"));
    };
  }

  receive(message) {
    if (message.type === "hello") {
      this.helloSeq = typeof message.seq === "number" ? message.seq : 0;
      this.opened();
      this.onEvent(message);
      this.report("live");
      return;
    }
    // Events published before the hello are already in it (the servers subscribe first).
    const covered = typeof message.seq === "number" && message.seq <= this.helloSeq;
    if (covered && !this.replaySafe.has(message.type)) return;
    this.onEvent(message);
  }

  opened() {
    clearTimeout(this.timers.hello);
    this.connecting = false;
    this.ready = true;
    this.everConnected = true;
    this.attempts = 0;
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  ping() {
    if (!this.send({ type: "ping" })) return;
    const socket = this.socket;
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => this.drop(socket, new Refusal("silent")), PONG_TIMEOUT_MS);
  }

  /** Forget a socket now (a dead one may take minutes to report its close), then retry unless told not to. */
  drop(socket, refusal = null) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    this.connecting = false;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.hello);
    socket.onmessage = socket.onclose = null;
    if (socket.readyState <= WebSocket.OPEN) socket.close();
    if (refusal) this.fail(refusal);
  }

  fail(refusal) {
    if (refusal.fatal) {
      this.stopped = refusal;
      clearTimeout(this.timers.retry);
      this.report("stopped", refusal);
      return;
    }
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_RETRY_MS * 2 ** this.attempts) * (0.7 + Math.random() * 0.3);
    const delay = refusal.retryAfterMs || backoff;
    this.attempts += 1;
    this.holdUntil = refusal.retryAfterMs ? Date.now() + delay : 0;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.start(), delay);
    this.report("retrying", refusal);
  }

  report(phase, refusal = null) {
    this.onChange({ phase, everConnected: this.everConnected, attempts: this.attempts, refusal });
  }
}
