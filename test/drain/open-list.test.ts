import { describe, expect, it } from 'vitest';
import { OpenList } from '../../lib/drain/open-list';

interface Item {
  id: number;
  open: boolean;
}

describe('OpenList', () => {
  it('returns the open items in the order they were added, across many sweeps', () => {
    const list = new OpenList<Item>((item) => item.open);
    const items: Item[] = [];
    for (let id = 0; id < 5000; id++) {
      const item = { id, open: true };
      items.push(item);
      list.add(item);
      // Close all but every seventh item a little later, as connections do.
      if (id >= 3 && (id - 3) % 7 !== 0) items[id - 3].open = false;
    }
    const expected = items.filter((item) => item.open);
    expect(expected.length).toBeGreaterThan(700);
    expect(list.open()).toEqual(expected);
    // open() sweeps but does not drop open items: asking twice gives the same.
    expect(list.open()).toEqual(expected);
  });

  it('keeps duplicates, drops an item closed after it was returned', () => {
    const list = new OpenList<Item>((item) => item.open);
    const a = { id: 1, open: true };
    const b = { id: 2, open: true };
    list.add(a);
    list.add(b);
    list.add(a);
    expect(list.open()).toEqual([a, b, a]);
    a.open = false;
    expect(list.open()).toEqual([b]);
  });
});
