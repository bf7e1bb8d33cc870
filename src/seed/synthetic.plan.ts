// What one collection yields: the primaries a visit fills and the processing tree drawn from each
// (plasma, serum, buffy coat, DNA and RNA extracts, PBMC, tissue pieces), with quantities in each
// type's unit.
import type { SpecimenType } from '../vocabulary/specimen-types.js';
import type { CollectionKind, ProtocolSeed } from './synthetic.protocols.js';
import { between, intBetween, pick, round, type Rng } from './synthetic.random.js';
import { PRIMARY_SPREC, type PrimarySprec } from './synthetic.sprec.js';

/** A tube to create, and what is later drawn from it. */
export interface PlanNode {
  type: SpecimenType;
  quantity: number;
  quality?: Record<string, number>;
  /** primaries: how the SPREC code is stated */
  sprec?: PrimarySprec;
  anatomicSite?: string;
  pathologyStatus?: PathologyStatus;
  ops: PlanOp[];
}

export interface PlanOp {
  kind: 'aliquot' | 'derivative';
  /** drawn from the parent, in the parent's unit */
  drawn: number;
  children: PlanNode[];
}

export type PathologyStatus = 'normal' | 'malignant' | 'not_applicable' | 'unknown';

const aliquots = (type: SpecimenType, n: number, each: number, quality?: Record<string, number>): PlanOp => ({
  kind: 'aliquot',
  drawn: round(n * each, 4),
  children: Array.from({ length: n }, () => ({
    type,
    quantity: each,
    ops: [],
    ...(quality ? { quality } : {}),
  })),
});

const derive = (drawn: number, child: PlanNode): PlanOp => ({ kind: 'derivative', drawn, children: [child] });

function dnaNode(rng: Rng, withAliquots: boolean): PlanNode {
  const quality = {
    concentrationNgUl: round(between(rng, 15, 180), 1),
    a260a280: round(between(rng, 1.7, 2.0), 2),
  };
  return {
    type: 'dna',
    quantity: 200,
    quality,
    ops: withAliquots ? [aliquots('dna', 2, 50, quality)] : [],
  };
}

function rnaNode(rng: Rng): PlanNode {
  return {
    type: 'rna',
    quantity: 50,
    quality: { rin: round(between(rng, 5.5, 9.6), 1), concentrationNgUl: round(between(rng, 20, 400), 1) },
    ops: [],
  };
}

/** The tubes one collection yields: primaries with their processing tree. */
export function planCollection(rng: Rng, kind: CollectionKind, protocol: ProtocolSeed): PlanNode[] {
  switch (kind) {
    case 'blood': {
      // EDTA tube: plasma (aliquoted), buffy coat (-> DNA), sometimes RNA / PBMC, whole-blood aliquots.
      const edtaOps: PlanOp[] = [
        derive(6, { type: 'plasma', quantity: 3, ops: [aliquots('plasma', 5, 0.5)] }),
        derive(1, {
          type: 'buffy_coat',
          quantity: 0.5,
          ops: rng() < 0.5 ? [derive(0.3, dnaNode(rng, rng() < 0.5))] : [],
        }),
      ];
      if (rng() < 0.15) edtaOps.push(derive(1, rnaNode(rng)));
      if (rng() < 0.15)
        edtaOps.push(derive(1, { type: 'pbmc', quantity: round(between(rng, 3e6, 1e7), 0), ops: [] }));
      else if (rng() < 0.6) edtaOps.push(aliquots('whole_blood', 2, 0.5));
      const tubes: PlanNode[] = [
        { type: 'whole_blood', quantity: 10, sprec: PRIMARY_SPREC.whole_blood, ops: edtaOps },
      ];
      // Serum tube (SST): serum derived, then aliquoted.
      if (rng() < 0.5)
        tubes.push({
          type: 'whole_blood',
          quantity: 8.5,
          sprec: PRIMARY_SPREC.serumTube,
          ops: [derive(8, { type: 'serum', quantity: 4, ops: [aliquots('serum', 6, 0.5)] })],
        });
      return tubes;
    }
    case 'urine':
      return [{ type: 'urine', quantity: 20, sprec: PRIMARY_SPREC.urine, ops: [aliquots('urine', 4, 1)] }];
    case 'saliva':
      return [
        {
          type: 'saliva',
          quantity: 2,
          sprec: PRIMARY_SPREC.saliva,
          ops: rng() < 0.8 ? [derive(1, { ...dnaNode(rng, false), quantity: 100 })] : [],
        },
      ];
    case 'csf':
      return [{ type: 'csf', quantity: 5, sprec: PRIMARY_SPREC.csf, ops: [aliquots('csf', 4, 0.5)] }];
    case 'marrow':
      return [
        {
          type: 'bone_marrow',
          quantity: 3,
          sprec: PRIMARY_SPREC.bone_marrow,
          ops: [derive(1.5, { type: 'buffy_coat', quantity: 0.5, ops: [derive(0.3, dnaNode(rng, true))] })],
        },
      ];
    case 'stool':
      return [
        {
          type: 'stool',
          quantity: 2000,
          sprec: PRIMARY_SPREC.stool,
          ops: [aliquots('stool', 3, 200)],
        },
      ];
    case 'tissue': {
      const site = pick(
        rng,
        (protocol.tissueSites ?? ['unspecified']).map((s) => [s, 1] as const),
      );
      const biopsy = protocol.code === 'IBD';
      // Tumour and (usually) matched normal, each cut into pieces with extracts from some.
      const piece = (pathologyStatus: PathologyStatus): PlanNode => {
        const mass = biopsy ? round(between(rng, 10, 30), 1) : round(between(rng, 60, 200), 1);
        const pieces = biopsy ? 1 : intBetween(rng, 2, 3);
        const each = round(mass / (pieces + 2), 1);
        const ops: PlanOp[] = [aliquots('fresh_frozen_tissue', pieces, each)];
        if (rng() < 0.4) ops.push(derive(round(each / 2, 1), dnaNode(rng, false)));
        if (rng() < 0.4) ops.push(derive(round(each / 2, 1), rnaNode(rng)));
        return {
          type: 'fresh_frozen_tissue',
          quantity: mass,
          sprec: biopsy ? PRIMARY_SPREC.biopsy : PRIMARY_SPREC.surgicalTissue,
          anatomicSite: site,
          pathologyStatus,
          ops,
        };
      };
      const tumour = piece(biopsy ? 'unknown' : 'malignant');
      return rng() < 0.7 ? [tumour, piece('normal')] : [tumour];
    }
  }
}
