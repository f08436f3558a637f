// A namespace's live event stream (GET /v1/namespaces/{ns}/events, Server-Sent Events).
// EventSource cannot send an Authorization header, so the stream is read with fetch():
// the token stays in the header, never in the URL. The feed reconnects by itself (with a
// growing pause, at most 5 s) and resumes after the last event id it saw, so a dropped
// connection loses no event.

import { ApiError, authHeaders, seg, url } from "./api.js";

export class EventFeed {
  /**
   * @param {string} ns the namespace
   * @param {number|null} since the revision to follow from (null: from now)
   * @param {{onEvent: function, onState: function}} handlers
   */
  constructor(ns, since, handlers) {
    this.ns = ns;
    this.last = since;
    this.handlers = handlers;
    this.state = "connecting";
    this.stopped = false;
    this.controller = null;
    this.failures = 0;
    this.run();
  }

  setState(state, detail) {
    this.state = state;
    this.handlers.onState?.(state, detail);
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async run() {
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        await this.once(this.controller.signal);
        this.failures = 0;
      } catch (exc) {
        if (this.stopped) return;
        if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403 || exc.status === 404)) {
          this.setState("closed", exc.message);
          return;
        }
        if (exc instanceof ApiError && exc.status === 410) {
          // Our resume point was compacted away: say so, and follow from now.
          this.handlers.onGap?.(exc.message);
          this.last = null;
        }
        this.failures += 1;
      }
      if (this.stopped) return;
      this.setState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** Math.min(this.failures, 5))));
    }
  }

  async once(signal) {
    const query = this.last === null ? {} : { since: this.last };
    const response = await fetch(url(`v1/namespaces/${seg(this.ns)}/events`, query), {
      headers: authHeaders({ Accept: "text/event-stream" }),
      cache: "no-store",
      signal,
    });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, body);
    }
    this.setState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.frame(frame);
      }
    }
  }

  frame(text) {
    let type = "message";
    let id = null;
    const data = [];
    for (const line of text.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "event") type = value;
      else if (name === "data") data.push(value);
      else if (name === "id") id = value;
    }
    if (!data.length) return;
    let payload;
    try { payload = JSON.parse(data.join("\n")); } catch { return; }
    if (type === "error") {
      const err = new ApiError(payload.error?.code === "unauthenticated" ? 401 : 500, payload);
      this.handlers.onError?.(err);
      if (err.status === 401) this.stop();
      return;
    }
    if (id !== null && /^\d+$/.test(id)) this.last = Number(id);
    this.handlers.onEvent?.(payload);
  }
}
