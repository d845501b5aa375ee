// The server's API as the web app uses it: uploads, the streamed chat completion (OpenAI's SSE chunks), the
// answer's frames / cameras / point cloud, eval reports.
import type { ServedCamera as Camera } from '../../src/apps/serve/served_model.ts';
import type { Coverage } from '../../src/pipeline/frame_sampling.ts';

export interface FileInfo {
  id: string;
  filename: string;
  bytes: number;
  created_at: number;
  mime_type: string;
}

export interface Frame {
  index: number;
  timestamp: number;
}

export interface Spatial {
  answer_id: string;
  sampling: string;
  frames: Frame[];
  coverage: Coverage | null;
}

/** The server's camera record (camera-from-world 3×4, intrinsics, frame size), one per chosen frame. */
export type { ServedCamera as Camera } from '../../src/apps/serve/served_model.ts';

export interface AskParams {
  model: string;
  fileId: string;
  question: string;
  frames: number;
  sampling: string;
  maxTokens: number;
}

async function checked(r: Response): Promise<Response> {
  if (r.ok) return r;
  let message = `HTTP ${r.status}`;
  try {
    message = (await r.json()).error.message;
  } catch {
    // not an API error body
  }
  throw new Error(message);
}

export const getJson = async <T>(url: string): Promise<T> => (await checked(await fetch(url))).json();

export async function models(): Promise<string[]> {
  return (await getJson<{ data: { id: string }[] }>('/v1/models')).data.map((m) => m.id);
}

export async function files(): Promise<FileInfo[]> {
  return (await getJson<{ data: FileInfo[] }>('/v1/files')).data;
}

export async function uploadFile(file: File): Promise<FileInfo> {
  const form = new FormData();
  form.append('purpose', 'user_data');
  form.append('file', file, file.name);
  return (await checked(await fetch('/v1/files', { method: 'POST', body: form }))).json();
}

/** Streams the answer: `onText` per content delta; resolves with the spatial extras of the last chunk. */
export async function ask(p: AskParams, onText: (t: string) => void): Promise<Spatial> {
  const r = await checked(
    await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: p.model,
        stream: true,
        max_tokens: p.maxTokens,
        temperature: 0,
        frames: p.frames,
        sampling: p.sampling,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'video_url', video_url: { url: p.fileId } },
              { type: 'text', text: p.question },
            ],
          },
        ],
      }),
    }),
  );
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let spatial: Spatial | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) onText(content);
      if (chunk.spatial) spatial = chunk.spatial;
    }
  }
  if (!spatial) throw new Error('the stream ended without an answer');
  return spatial;
}

export const frameUrl = (answerId: string, i: number) => `/v1/answers/${answerId}/frames/${i}`;

export async function cameras(answerId: string): Promise<Camera[]> {
  return (await getJson<{ cameras: Camera[] }>(`/v1/answers/${answerId}/cameras`)).cameras;
}

export async function pointCloud(answerId: string, maxPoints: number): Promise<ArrayBuffer> {
  return (
    await checked(await fetch(`/v1/answers/${answerId}/points.ply?max_points=${maxPoints}`))
  ).arrayBuffer();
}

export interface ReportEntry {
  name: string;
  report: Record<string, unknown>;
}

export async function reports(): Promise<ReportEntry[]> {
  return (await getJson<{ data: ReportEntry[] }>('/v1/reports')).data;
}
