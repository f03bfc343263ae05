import { chartSvg, niceTicks, xmlEscape } from '../../bench/lib/svg';

describe('svg chart', () => {
  test('niceTicks: round steps from 0 past the maximum', () => {
    expect(niceTicks(1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(4.3)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  test('xmlEscape escapes markup characters', () => {
    expect(xmlEscape('a < b & "c" > d')).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
  });

  test('a chart has one panel per input, one point per sample, the reference lines and balanced elements', () => {
    const svg = chartSvg(
      [
        {
          title: 'Synth time',
          xLabel: 'queues',
          yLabel: 'seconds',
          series: [
            { name: 'wall <median>', color: '#123456', points: [1, 10, 100, 1000].map((x) => ({ x, y: 1 + x / 250 })) },
          ],
          lines: [{ y: 8, label: 'budget 8 s', color: '#d62728' }],
        },
        {
          title: 'Memory',
          xLabel: 'queues',
          yLabel: 'MiB',
          series: [
            {
              name: 'rss',
              color: '#654321',
              points: [
                { x: 1, y: 100 },
                { x: 1000, y: 250 },
              ],
            },
          ],
        },
      ],
      'caption & more',
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="880"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('>budget 8 s</text>');
    expect(svg).toContain('wall &lt;median&gt;');
    expect(svg).toContain('caption &amp; more');
    expect(svg.match(/<text /g)?.length).toBe(svg.match(/<\/text>/g)?.length);
    // The highest point (x = 1000, y = 5) lies inside the first panel's plot area.
    const last = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3.5" fill="#123456"\/>/g)].pop()!;
    expect(Number(last[1])).toBeLessThanOrEqual(440);
    expect(Number(last[2])).toBeGreaterThan(34);
  });
});
