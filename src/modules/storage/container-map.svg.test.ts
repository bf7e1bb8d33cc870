import { describe, expect, it } from 'vitest';
import { containerMapSvg, escapeXml } from './container-map.svg.js';
import type { ContainerMap } from './storage.dto.js';
import type { ContainerRow } from './storage.table.js';

describe('containerMapSvg', () => {
  it('escapes every text it draws, so a name cannot become markup', () => {
    const evil = `<script>alert("x")</script>&'`;
    const container = { id: 'c1', kind: 'box', barcode: evil } as unknown as ContainerRow;
    const map: ContainerMap = {
      container,
      byId: new Map(),
      rows: 1,
      cols: 2,
      scheme: 'alphanumeric',
      occupied: 1,
      positions: [
        {
          position: 'A1',
          row: 1,
          col: 1,
          occupant: {
            kind: 'specimen',
            id: 's1',
            barcode: evil,
            type: 'serum',
            status: 'available',
            holds: [],
          },
        },
        { position: 'A2', row: 1, col: 2, occupant: null },
      ],
    };
    const svg = containerMapSvg(map, 'type');
    expect(svg).not.toContain('<script');
    expect(svg).toContain(escapeXml(evil));
    expect(escapeXml(evil)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&apos;');
  });
});
