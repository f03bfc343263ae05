/**
 * The review renders someone else's text: a pull request controls its specs and can change what synth writes, so the
 * synthesized outputs it reads are hostile. Every string in them below tries to break out of the place the review puts
 * it; the rendered HTML (markdown-it, the CommonMark + GFM grammar GitHub uses, raw HTML on as on GitHub) must show
 * each one literally and nothing else.
 */
import MarkdownIt from 'markdown-it';
import type { SeedManifest } from '../../../lib/core/manifest';
import { renderReviewMarkdown, REVIEW_MARKER } from '../../../lib/apps/review/markdown';
import { reviewSynthOutputs } from '../../../lib/apps/review/review';
import type { ReviewedStack, ReviewInput } from '../../../lib/apps/review/synth-output';

const md = new MarkdownIt({ html: true });

/** Breaks out of a line, a fence, a table cell, a code span or an HTML tag, and forges or hides content. */
const FORGE = 'x\n```\n# Forged: no changes\n<!-- hide the rest\n<img src=x onerror=alert(1)> | extra | cell `` `';
const BIDI = 'step\u202eexe.txt\u001b[2J';

function stack(name: string, value: string, seedId: string, payloadKey: string): ReviewedStack {
  const manifest: SeedManifest = {
    version: 1,
    stack: name,
    project: 'p',
    location: 'us-central1',
    tasks: [
      {
        step: FORGE,
        seedId,
        queue: 'projects/p/locations/us-central1/queues/q',
        taskId: `0123456789abcdef-${seedId}`,
        dispatchDeadlineSeconds: 600,
        httpRequest: {
          url: 'https://x.example/',
          httpMethod: 'POST',
          headers: {},
          body: JSON.stringify({ [payloadKey]: 1 }),
        },
      },
    ],
  } as unknown as SeedManifest;
  return {
    name,
    config: {
      resource: {
        google_cloud_tasks_queue: {
          [`q${FORGE}`]: {
            name: 'q',
            http_target: { header_overrides: [{ header: { key: FORGE, value } }] },
          },
        },
      },
      output: {
        pipeline_graph: {
          value: { pipeline: 'p', environment: 'dev', steps: [{ name: FORGE, queueId: BIDI, next: [] }] },
        },
      },
    },
    seedManifest: manifest,
    assets: {},
    policySuppressions: [{ rule: FORGE, reason: FORGE, source: 'spec', scope: FORGE }],
  };
}

function input(stacks: ReviewedStack[]): ReviewInput {
  return { dir: 'x', stacks: Object.fromEntries(stacks.map((s) => [s.name, s])) };
}

describe('GIVEN synthesized outputs whose every string is hostile', () => {
  const name = `<img src=x>${FORGE}`;
  const base = input([stack(name, `before${FORGE}`, 'old', 'k'), stack(`gone${FORGE}`, 'v', 'id', 'k')]);
  const head = input([
    stack(name, `after${FORGE}`, `new${FORGE}`, `key${FORGE}`),
    stack(`added${FORGE}`, 'v', 'id', 'k'),
  ]);
  const markdown = renderReviewMarkdown(reviewSynthOutputs(base, head));
  const html = md.render(markdown);

  test('THEN no raw HTML reaches the comment: one comment (our marker), no image, no tag from the input', () => {
    expect(markdown.startsWith(`${REVIEW_MARKER}\n`)).toBe(true);
    expect(html.match(/<!--/g)).toHaveLength(1);
    expect(html).not.toMatch(/<img/);
    expect(html).not.toMatch(/onerror=alert\(1\)>/);
  });

  test('THEN no heading is forged: the only heading is the title', () => {
    expect(html.match(/<h[1-6]>/g)).toEqual(['<h3>']);
    expect(html).not.toMatch(/<h1>|<p># Forged/);
  });

  test('THEN every table row keeps its columns', () => {
    for (const row of html.match(/<tr>[\s\S]*?<\/tr>/g) ?? []) {
      const cells = (row.match(/<t[dh]>/g) ?? []).length;
      expect(cells).toBe(4);
    }
  });

  test('THEN the forged text appears only inside code (spans and blocks)', () => {
    const outsideCode = html.replace(/<pre>[\s\S]*?<\/pre>/g, '').replace(/<code>[\s\S]*?<\/code>/g, '');
    // In prose (the suppression reason) it is escaped text, never markup.
    expect(outsideCode).not.toMatch(/Forged: no changes<|<h1|<img|<!-- hide/);
    expect(html).toContain('Forged: no changes');
  });

  test('THEN control and bidi characters are shown escaped, and every fence is closed by our own fence', () => {
    expect(markdown).not.toMatch(/[\u001b\u202e]/);
    expect(markdown).toContain('\\u202e');
    expect(html.match(/<pre>/g)?.length).toBe(html.match(/<\/pre>/g)?.length);
    // No link either: a link target is text the input could choose.
    expect(html).not.toMatch(/<a href=/);
  });
});
