// The web app: choose or upload a video, ask, watch the answer stream, then see the frames the model saw, the
// coverage of space-aware sampling and VGGT's reconstruction of the space with the frames' cameras; eval reports
// below.
import * as api from './api.ts';
import { coverageChart } from './charts.ts';
import { showReports } from './reports.ts';
import { SpaceView } from './scene.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  model: $<HTMLSelectElement>('model'),
  upload: $<HTMLInputElement>('upload'),
  videos: $<HTMLSelectElement>('videos'),
  preview: $<HTMLVideoElement>('preview'),
  question: $<HTMLTextAreaElement>('question'),
  frames: $<HTMLInputElement>('frames'),
  sampling: $<HTMLSelectElement>('sampling'),
  maxTokens: $<HTMLInputElement>('maxTokens'),
  inTab: $<HTMLInputElement>('inTab'),
  ask: $<HTMLButtonElement>('ask'),
  status: $<HTMLDivElement>('status'),
  answer: $<HTMLPreElement>('answer'),
  coverage: $<HTMLDivElement>('coverage'),
  strip: $<HTMLDivElement>('frames-strip'),
  reports: $<HTMLDivElement>('reports'),
};
const view = new SpaceView($<HTMLCanvasElement>('view'));

function status(text: string, error = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', error);
}

function option(value: string, label: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}

async function refreshVideos(select?: string): Promise<void> {
  const list = (await api.files()).filter((f) => f.mime_type.startsWith('video/'));
  ui.videos.replaceChildren(
    option('', list.length ? '—' : 'no uploads yet'),
    ...list.map((f) => option(f.id, `${f.filename} (${(f.bytes / 1024).toFixed(0)} KiB)`)),
  );
  if (select) ui.videos.value = select;
  pickVideo();
}

function pickVideo(): void {
  const id = ui.videos.value;
  ui.ask.disabled = !id;
  if (id) ui.preview.src = `/v1/files/${id}/content`;
}

ui.videos.addEventListener('change', pickVideo);
ui.upload.addEventListener('change', async () => {
  const file = ui.upload.files?.[0];
  if (!file) return;
  status(`uploading ${file.name}…`);
  try {
    const f = await api.uploadFile(file);
    await refreshVideos(f.id);
    status(`uploaded ${file.name}`);
  } catch (e) {
    status((e as Error).message, true);
  }
});

function showFrames(s: api.Spatial, onPick: (i: number) => void): void {
  ui.strip.replaceChildren(
    ...s.frames.map((f, i) => {
      const fig = document.createElement('figure');
      fig.dataset.frame = String(i);
      const img = document.createElement('img');
      img.src = api.frameUrl(s.answer_id, i);
      img.alt = `frame ${f.index}`;
      const cap = document.createElement('figcaption');
      cap.textContent = `#${f.index} · ${f.timestamp.toFixed(2)} s`;
      fig.append(img, cap);
      fig.addEventListener('click', () => {
        for (const other of ui.strip.children) other.classList.toggle('active', other === fig);
        onPick(i);
      });
      return fig;
    }),
  );
}

function showCoverage(s: api.Spatial): void {
  if (!s.coverage) {
    ui.coverage.replaceChildren(
      Object.assign(document.createElement('span'), {
        className: 'hint',
        textContent: `${s.sampling} sampling: no coverage to show`,
      }),
    );
    return;
  }
  const c = s.coverage;
  const label = document.createElement('div');
  label.textContent = `${(100 * c.ratio).toFixed(1)}% of ${c.total} voxels covered by ${c.gains.length} frames`;
  ui.coverage.replaceChildren(label, coverageChart(c.gains, c.total));
}

type Tab = typeof import('./tab.ts');
let tabModule: Promise<Tab> | undefined;
const tabModels = new Map<string, Promise<import('./tab.ts').TabModel>>();

/** The answer computed in this tab: the checkpoint fetched once (then from the browser's cache), the video
 * decoded by the browser, the pipeline run by onnxruntime-web. */
async function askInTab(question: string): Promise<void> {
  // A variable URL keeps esbuild from bundling the tab model into this page's script.
  const url = '/tab.js';
  tabModule ??= import(/* @vite-ignore */ url) as Promise<Tab>;
  const tab = await tabModule;
  const id = ui.model.value;
  if (!tabModels.has(id))
    tabModels.set(
      id,
      tab.TabModel.load(id, {
        onProgress: (n, total) =>
          status(
            `loading the model into this tab: ${(n / 2 ** 20).toFixed(1)} / ${(total / 2 ** 20).toFixed(1)} MiB`,
          ),
      }),
    );
  const model = await tabModels.get(id)!;
  const local = ui.upload.files?.[0];
  const file = local ?? (await (await fetch(`/v1/files/${ui.videos.value}/content`)).blob());
  status(`decoding ${ui.frames.value} frames in the tab…`);
  const frames = await tab.videoFrames(file, Number(ui.frames.value));
  status(`answering in this tab (${model.device})…`);
  const t0 = performance.now();
  const r = await model.ask(frames, question, {
    maxTokens: Number(ui.maxTokens.value),
    onToken: (t) => {
      ui.answer.textContent += t;
    },
  });
  ui.answer.dataset.tokens = r.tokenIds.join(',');
  ui.strip.replaceChildren(
    ...frames.map((f) => {
      const fig = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = f.image.width;
      canvas.height = f.image.height;
      const rgba = new Uint8ClampedArray(f.image.width * f.image.height * 4);
      for (let p = 0; p < f.image.width * f.image.height; p++) {
        rgba.set(f.image.data.subarray(3 * p, 3 * p + 3), 4 * p);
        rgba[4 * p + 3] = 255;
      }
      canvas.getContext('2d')!.putImageData(new ImageData(rgba, f.image.width, f.image.height), 0, 0);
      const img = document.createElement('img');
      img.src = canvas.toDataURL();
      const cap = document.createElement('figcaption');
      cap.textContent = `${f.timestamp.toFixed(2)} s`;
      fig.append(img, cap);
      return fig;
    }),
  );
  ui.coverage.replaceChildren();
  status(
    `answered in this tab (${model.device}) in ${((performance.now() - t0) / 1000).toFixed(1)} s, no server compute; the space view needs the server's VGGT pass`,
  );
}

ui.ask.addEventListener('click', async () => {
  const question = ui.question.value.trim() || ui.question.placeholder;
  ui.ask.disabled = true;
  ui.answer.textContent = '';
  ui.strip.replaceChildren();
  status('waiting for the model…');
  const t0 = performance.now();
  try {
    if (ui.inTab.checked) {
      await askInTab(question);
      return;
    }
    const s = await api.ask(
      {
        model: ui.model.value,
        fileId: ui.videos.value,
        question,
        frames: Number(ui.frames.value),
        sampling: ui.sampling.value,
        maxTokens: Number(ui.maxTokens.value),
      },
      (t) => {
        ui.answer.textContent += t;
        status('answering…');
      },
    );
    ui.answer.dataset.answerId = s.answer_id;
    status(`answered in ${((performance.now() - t0) / 1000).toFixed(1)} s; reconstructing the space…`);
    showFrames(s, (i) => view.flyTo(i));
    showCoverage(s);
    const [cams, ply] = await Promise.all([api.cameras(s.answer_id), api.pointCloud(s.answer_id, 200_000)]);
    view.show(ply, cams);
    document.body.dataset.space = 'ready';
    status(`answered; ${cams.length} cameras and the point cloud of the frames the model saw`);
  } catch (e) {
    status((e as Error).message, true);
  } finally {
    ui.ask.disabled = !ui.videos.value;
  }
});

async function start(): Promise<void> {
  try {
    const models = await api.models();
    ui.model.replaceChildren(...models.map((m) => option(m, m)));
    await refreshVideos();
    await showReports(ui.reports, await api.reports());
    document.body.dataset.ready = 'true';
  } catch (e) {
    status((e as Error).message, true);
  }
}

start();
