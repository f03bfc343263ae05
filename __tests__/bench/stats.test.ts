import { linearFit, marginalCosts, max, median, min, quantile } from '../../bench/lib/stats';

describe('stats', () => {
  test('median of odd and even counts, unsorted input left as it was', () => {
    const input = [5, 1, 3];
    expect(median(input)).toBe(3);
    expect(input).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  test('quantile interpolates between neighbours and clamps q', () => {
    expect(quantile([10, 20, 30, 40, 50], 0.25)).toBe(20);
    expect(quantile([1, 2], 0.5)).toBe(1.5);
    expect(quantile([1, 2, 3], 2)).toBe(3);
    expect(quantile([1, 2, 3], -1)).toBe(1);
    expect(min([3, 1, 2])).toBe(1);
    expect(max([3, 1, 2])).toBe(3);
  });

  test('linearFit recovers a line exactly and reports r2 = 1', () => {
    const fit = linearFit([1, 10, 100, 1000].map((x) => ({ x, y: 0.8 + 0.004 * x })));
    expect(fit.slope).toBeCloseTo(0.004, 10);
    expect(fit.intercept).toBeCloseTo(0.8, 10);
    expect(fit.r2).toBeCloseTo(1, 10);
    expect(linearFit([{ x: 1, y: 1 }]).slope).toBeNaN();
  });

  test('marginalCosts gives the cost per added unit between consecutive points, sorted by x', () => {
    const costs = marginalCosts([
      { x: 1000, y: 5000 },
      { x: 10, y: 1040 },
      { x: 100, y: 1400 },
    ]);
    expect(costs).toEqual([
      { from: 10, to: 100, perUnit: 4 },
      { from: 100, to: 1000, perUnit: 4 },
    ]);
  });
});
