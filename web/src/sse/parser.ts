/**
 * A server-sent events parser (the WHATWG "event stream interpretation"), fed text as it arrives.
 *
 * EventSource cannot send an Authorization header, so the app reads streams with fetch and parses them
 * here: lines end in CRLF, LF or CR (a CR at the end of one chunk may be followed by the LF of the next),
 * `data` lines are joined with "\n", a blank line dispatches, comments (":…") are skipped, an `id` with a
 * NUL is ignored, and an event cut off by the end of the stream is discarded.
 */

export interface SseMessage {
  /** The stream's last event id when this event was dispatched (what Last-Event-ID resumes from). */
  id: string;
  /** `message` when the event named no type. */
  event: string;
  data: string;
}

export class SseParser {
  private pending = "";
  private skipLf = false;
  private first = true;
  private dataLines: string[] = [];
  private hasData = false;
  private eventType = "";
  private lastId = "";
  /** The reconnection delay the server asked for (`retry:`), in milliseconds. */
  retry: number | undefined;
  /** Comments the server sent (`: keep-alive`, `: closed: …`), most recent last; bounded. */
  readonly comments: string[] = [];

  constructor(lastEventId = "") {
    this.lastId = lastEventId;
  }

  get lastEventId(): string {
    return this.lastId;
  }

  /** Feed the next piece of text; returns the events it completed, in order. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: SseMessage[] = [];
    let start = 0;
    if (this.skipLf && text.startsWith("\n")) start = 1;
    this.skipLf = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.pending + text.slice(start, i);
      this.pending = "";
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
      this.line(line, out);
    }
    this.pending += text.slice(start);
    return out;
  }

  /** The stream ended: a partly received event is dropped, as EventSource does. */
  end(): SseMessage[] {
    this.pending = "";
    this.dataLines = [];
    this.hasData = false;
    this.eventType = "";
    return [];
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(":")) {
      this.comments.push(line.slice(1).trimStart());
      if (this.comments.length > 20) this.comments.shift();
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.dataLines.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SseMessage[]): void {
    if (this.hasData) {
      out.push({ id: this.lastId, event: this.eventType || "message", data: this.dataLines.join("\n") });
    }
    this.dataLines = [];
    this.hasData = false;
    this.eventType = "";
  }
}
