// The body of POST /v1/chat/completions as OpenAI defines it, with vLLM's `video_url` content part, and what it
// asks of the model: one user turn holding a video (a `video_url` or `file` part: a data: URL or the id of an
// uploaded file) or a list of frames (`image_url` parts, in time order), plus text. Extra fields: `frames` and
// `sampling` (Spatial-MLLM's frame selection).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FRAME_SAMPLINGS, MIN_FRAME_COUNT } from '../../frame_options.ts';
import { openVideo } from '../../media/video.ts';
import { ApiError } from './errors.ts';
import type { FileStore, MediaKind, StoredFile } from './files.ts';

const urlField = z.union([z.string(), z.object({ url: z.string() }).loose()]);
const part = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }).loose(),
  z.object({ type: z.literal('image_url'), image_url: urlField }).loose(),
  z.object({ type: z.literal('video_url'), video_url: urlField }).loose(),
  z.object({ type: z.literal('file'), file: z.object({ file_id: z.string() }).loose() }).loose(),
]);
type Part = z.infer<typeof part>;

const message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(part)]).nullable(),
  })
  .loose();

/** The longest frame list one request may ask for (each frame costs encoder time and memory). */
export const MAX_FRAMES = 128;

export const chatRequest = z
  .object({
    model: z.string().min(1),
    messages: z.array(message).min(1),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullable().optional(),
    max_tokens: z.number().int().min(1).max(8192).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).max(8192).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().gt(0).max(1).nullable().optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .nullable()
      .optional(),
    n: z.literal(1).nullable().optional(),
    frames: z.number().int().min(MIN_FRAME_COUNT).max(MAX_FRAMES).optional(),
    sampling: z.enum(FRAME_SAMPLINGS).optional(),
  })
  .loose();
export type ChatRequest = z.infer<typeof chatRequest>;

/** The request body parsed, or a 400 naming the first wrong field. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(400, 'the request body must be a JSON object (Content-Type: application/json)');
  const r = chatRequest.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.map(String).join('.') || null;
  throw new ApiError(400, `${param ?? 'body'}: ${issue.message}`, param, 'invalid_value');
}

export interface ChatInput {
  question: string;
  /** The user's video, or the uploaded/inline frames gathered into a folder of frames. */
  video: string;
}

const onlyUserTurn =
  'this server answers one user message (a video or frames plus text) per request; send a single message with role "user"';

/** The text and media of the single user turn, media stored under the data folder. */
export async function resolveChatInput(
  req: ChatRequest,
  files: FileStore,
  framesDir: string,
): Promise<ChatInput> {
  if (req.messages.length !== 1 || req.messages[0].role !== 'user')
    throw new ApiError(400, onlyUserTurn, 'messages', 'unsupported_conversation');
  const content = req.messages[0].content;
  const parts: Part[] = typeof content === 'string' ? [{ type: 'text', text: content }] : (content ?? []);
  const question = parts
    .flatMap((p) => (p.type === 'text' ? [p.text] : []))
    .join('\n')
    .trim();
  if (!question)
    throw new ApiError(400, 'the user message has no text: add a text part with the question', 'messages');
  const videos = parts.filter((p) => p.type === 'video_url' || p.type === 'file');
  const images = parts.filter((p) => p.type === 'image_url');
  const param = 'messages.0.content';
  if (videos.length + images.length === 0)
    throw new ApiError(
      400,
      'the user message has no video: add a {"type": "video_url"} part (a data: URL or an uploaded file id) or image_url frames',
      param,
    );
  if (videos.length > 1 || (videos.length === 1 && images.length > 0))
    throw new ApiError(
      400,
      'send one video (one video_url or file part) or a list of frames (image_url parts), not both',
      param,
    );
  const video =
    videos.length === 1
      ? files.path(await mediaOf(videos[0], 'video', files))
      : frameFolder(await Promise.all(images.map((p) => mediaOf(p, 'image', files))), files, framesDir);
  // Probe now, so an unreadable video is a 400 before the request waits for the model.
  await openVideo(video);
  return { question, video };
}

/** The stored file behind a media part: an uploaded file id, or a data: URL stored on the way. */
async function mediaOf(p: Part, kind: MediaKind, files: FileStore): Promise<StoredFile> {
  const ref =
    p.type === 'file'
      ? p.file.file_id
      : p.type === 'video_url'
        ? typeof p.video_url === 'string'
          ? p.video_url
          : p.video_url.url
        : p.type === 'image_url'
          ? typeof p.image_url === 'string'
            ? p.image_url
            : p.image_url.url
          : '';
  const param = `messages.0.content.${p.type}`;
  let f: StoredFile | undefined;
  if (ref.startsWith('data:')) {
    const m = /^data:([\w.+-]+\/[\w.+-]+)?(;[^,]*)?,/.exec(ref.slice(0, 200));
    if (!m?.[2]?.includes('base64'))
      throw new ApiError(400, 'data: URLs must be base64 (data:video/mp4;base64,…)', param);
    f = await files.saveBytes(Buffer.from(ref.slice(m[0].length), 'base64'), 'inline', 'inline');
  } else if (/^https?:/i.test(ref))
    throw new ApiError(
      400,
      'this server does not fetch URLs: upload the file with POST /v1/files and pass its id, or use a data: URL',
      param,
    );
  else {
    f = files.get(ref);
    if (!f)
      throw new ApiError(
        404,
        `no uploaded file ${JSON.stringify(ref.slice(0, 80))}: upload it with POST /v1/files and use the id it returns`,
        param,
        'file_not_found',
      );
  }
  if (f.kind !== kind)
    throw new ApiError(
      400,
      `${f.id} is ${f.kind === 'video' ? 'a video' : 'an image'}: send it as a ${f.kind === 'video' ? 'video_url' : 'image_url'} part`,
      param,
    );
  return f;
}

/** A folder of numbered frames (the pipeline reads it as a video) holding the given images in order; one folder
 * per distinct list, so repeated requests reuse it and its cached geometry. */
function frameFolder(frames: StoredFile[], files: FileStore, framesDir: string): string {
  const key = createHash('sha256')
    .update(frames.map((f) => f.id).join(','))
    .digest('hex')
    .slice(0, 24);
  const dir = join(framesDir, `frames-${key}`);
  if (existsSync(dir)) return dir;
  const temp = `${dir}.${process.pid}.${Date.now()}.tmp`;
  mkdirSync(temp, { recursive: true });
  try {
    frames.forEach((f, i) => {
      copyFileSync(
        files.path(f),
        join(temp, `frame_${String(i).padStart(5, '0')}.${f.mime === 'image/png' ? 'png' : 'jpg'}`),
      );
    });
    renameSync(temp, dir);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}
