// A tiny chat-completions server on 127.0.0.1 for adapter tests: answers deterministically from the prompt,
// records what it received, and can fail or slow down on demand. Closes itself after a deadline.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  authorization?: string;
  body: any;
}

export interface FakeServer {
  url: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/** A deterministic answer: a letter for multiple choice prompts, a number otherwise. */
export function fakeAnswer(prompt: string): string {
  let h = 0;
  for (const ch of prompt) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return prompt.includes('Options:') ? 'ABCD'[h % 2] : String(1 + (h % 7) * 0.5);
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (c) => {
      s += c;
    });
    req.on('end', () => resolve(s));
  });

export async function startFakeServer(
  opts: { delayMs?: number; failFirst?: number; status?: number } = {},
): Promise<FakeServer> {
  const received: ReceivedRequest[] = [];
  let failures = opts.failFirst ?? 0;
  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req));
    received.push({ authorization: req.headers.authorization, body });
    if (failures > 0) {
      failures--;
      res.writeHead(opts.status ?? 500).end('try again');
      return;
    }
    const text = body.messages[0].content.find((p: any) => p.type === 'text').text;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: fakeAnswer(text) } }] }));
    }, opts.delayMs ?? 0);
  });
  server.keepAliveTimeout = 50; // let finished CLI children exit at once
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const deadline = setTimeout(() => server.close(), 60_000);
  deadline.unref();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(deadline);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
